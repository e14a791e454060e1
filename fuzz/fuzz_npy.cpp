// Untrusted .npy bytes (src/model/npy.cpp, torch-free): the first two bytes
// give the length of the image file, the rest of the input after it is the
// label file. A set that parses holds exactly what its shape declares.
#include "deepsz/error.h"
#include "deepsz/model/data.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const deepsz::fuzz::FilePair files = deepsz::fuzz::split_files(data, size);
  try {
    const deepsz::model::ImageSet set =
        deepsz::model::parse_npy_pair(files.first, files.first_size, files.second, files.second_size);
    if (set.channels <= 0 || set.rows <= 0 || set.cols <= 0) deepsz::fuzz::die("an image without pixels accepted");
    if (set.pixels.size() != size_t(set.size()) * size_t(set.image_elements()))
      deepsz::fuzz::die("pixel count differs from the shape");
    if (set.pixels.size() + set.labels.size() > size) deepsz::fuzz::die("more elements than input bytes");
  } catch (const deepsz::Error&) {
  }
  return 0;
}
