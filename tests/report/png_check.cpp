// png_check FILE.png MIN_COLOURS MIN_NONWHITE_PERCENT: decodes an 8-bit RGB
// or RGBA PNG (Chromium's screenshots) with zlib and tells whether it shows
// something: at least MIN_COLOURS distinct colours and at least
// MIN_NONWHITE_PERCENT of the pixels not white (any channel below 245).
// Prints "W x H, N colours, P% not white"; exit 0 when both hold, 1 when the
// image is blank by that rule, 2 when the file is not a PNG it can read.
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "png_check: %s\n", what.c_str());
  std::exit(2);
}

uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

int paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) fail("usage: png_check FILE.png MIN_COLOURS MIN_NONWHITE_PERCENT");
  const size_t min_colours = std::strtoul(argv[2], nullptr, 10);
  const double min_nonwhite = std::strtod(argv[3], nullptr);
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) fail(std::string("cannot open ") + argv[1]);
  const std::vector<uint8_t> file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (file.size() < 8 || !std::equal(signature, signature + 8, file.begin())) fail("not a PNG");

  uint32_t width = 0, height = 0;
  int channels = 0;
  std::vector<uint8_t> compressed;
  for (size_t at = 8; at + 12 <= file.size();) {
    const uint32_t length = be32(&file[at]);
    if (length > file.size() - at - 12) fail("truncated chunk");
    const std::string type(reinterpret_cast<const char*>(&file[at + 4]), 4);
    const uint8_t* data = &file[at + 8];
    const uint32_t crc = uint32_t(crc32(crc32(0, nullptr, 0), &file[at + 4], length + 4));
    if (crc != be32(data + length)) fail("CRC of chunk " + type + " wrong");
    if (type == "IHDR") {
      if (length != 13) fail("bad IHDR");
      width = be32(data);
      height = be32(data + 4);
      if (data[8] != 8 || (data[9] != 2 && data[9] != 6) || data[12] != 0)
        fail("only 8-bit RGB/RGBA, non-interlaced PNGs are read");
      channels = data[9] == 6 ? 4 : 3;
    } else if (type == "IDAT") {
      compressed.insert(compressed.end(), data, data + length);
    } else if (type == "IEND") {
      break;
    }
    at += 12 + size_t(length);
  }
  if (!width || !height || width > 20000 || height > 20000) fail("no or absurd IHDR");

  const size_t stride = size_t(width) * channels;
  std::vector<uint8_t> raw((stride + 1) * height);
  uLongf raw_size = raw.size();
  if (uncompress(raw.data(), &raw_size, compressed.data(), compressed.size()) != Z_OK || raw_size != raw.size())
    fail("image data does not inflate to its size");

  std::vector<uint8_t> prev(stride, 0), row(stride);
  std::vector<uint32_t> colours;
  colours.reserve(size_t(width) * height);
  uint64_t nonwhite = 0;
  for (uint32_t y = 0; y < height; ++y) {
    const uint8_t filter = raw[y * (stride + 1)];
    const uint8_t* src = &raw[y * (stride + 1) + 1];
    for (size_t i = 0; i < stride; ++i) {
      const int a = i >= size_t(channels) ? row[i - channels] : 0, b = prev[i],
                c = i >= size_t(channels) ? prev[i - channels] : 0;
      int v = src[i];
      switch (filter) {
        case 0: break;
        case 1: v += a; break;
        case 2: v += b; break;
        case 3: v += (a + b) / 2; break;
        case 4: v += paeth(a, b, c); break;
        default: fail("bad filter type");
      }
      row[i] = uint8_t(v);
    }
    for (uint32_t x = 0; x < width; ++x) {
      const uint8_t* p = &row[size_t(x) * channels];
      colours.push_back(uint32_t(p[0]) << 16 | uint32_t(p[1]) << 8 | p[2]);
      if (p[0] < 245 || p[1] < 245 || p[2] < 245) ++nonwhite;
    }
    std::swap(prev, row);
  }
  std::sort(colours.begin(), colours.end());
  const size_t distinct = size_t(std::unique(colours.begin(), colours.end()) - colours.begin());
  const double percent = 100.0 * double(nonwhite) / (double(width) * height);
  std::printf("%u x %u, %zu colours, %.2f%% not white\n", width, height, distinct, percent);
  return distinct >= min_colours && percent >= min_nonwhite ? 0 : 1;
}
