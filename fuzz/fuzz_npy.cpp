// Untrusted .npy bytes (src/model/npy.cpp, torch-free): the first two bytes
// give the length of the image file, the rest of the input after it is the
// label file. A set that parses holds exactly what its shape declares.
#include "deepsz/error.h"
#include "deepsz/model/data.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  deepsz::fuzz::Params p(data, size);
  const size_t split = std::min<size_t>(p.u16(), p.rest_size());
  const uint8_t* images = p.rest();
  try {
    const deepsz::model::ImageSet set =
        deepsz::model::parse_npy_pair(images, split, images + split, p.rest_size() - split);
    if (set.channels <= 0 || set.rows <= 0 || set.cols <= 0) deepsz::fuzz::die("an image without pixels accepted");
    if (set.pixels.size() != size_t(set.size()) * size_t(set.image_elements()))
      deepsz::fuzz::die("pixel count differs from the shape");
    if (set.pixels.size() + set.labels.size() > size) deepsz::fuzz::die("more elements than input bytes");
  } catch (const deepsz::Error&) {
  }
  return 0;
}
