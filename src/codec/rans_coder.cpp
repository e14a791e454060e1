#include "rans_coder.h"

#include <algorithm>
#include <cmath>
#include <queue>
#include <utility>

namespace deepsz::codec_detail {

void normalise_frequencies(const uint32_t* counts, size_t alphabet, uint64_t total,
                           int scale_bits, uint32_t* freqs) {
  const int64_t target = int64_t(1) << scale_bits;
  const double scale = double(target) / double(total);
  int64_t sum = 0;
  for (size_t s = 0; s < alphabet; ++s) {
    if (counts[s] == 0) {
      freqs[s] = 0;
      continue;
    }
    double f = std::floor(double(counts[s]) * scale + 0.5);
    freqs[s] = uint32_t(std::max(1.0, std::min(f, double(target))));
    sum += freqs[s];
  }
  if (sum == target) return;
  // Greedy correction: each unit goes to (or comes from) the symbol where it
  // changes the coded size the least; counts * log2 of the frequency ratio.
  using Item = std::pair<double, uint32_t>;  // (cost change, symbol)
  if (sum < target) {
    auto gain = [&](uint32_t s) {
      return double(counts[s]) * std::log2(double(freqs[s] + 1) / double(freqs[s]));
    };
    std::priority_queue<Item> heap;  // largest gain first
    for (size_t s = 0; s < alphabet; ++s)
      if (freqs[s]) heap.push({gain(uint32_t(s)), uint32_t(s)});
    while (sum < target) {
      const uint32_t s = heap.top().second;
      heap.pop();
      freqs[s]++;
      sum++;
      heap.push({gain(s), s});
    }
  } else {
    auto loss = [&](uint32_t s) {
      return double(counts[s]) * std::log2(double(freqs[s]) / double(freqs[s] - 1));
    };
    std::priority_queue<Item, std::vector<Item>, std::greater<Item>> heap;  // smallest loss first
    for (size_t s = 0; s < alphabet; ++s)
      if (freqs[s] > 1) heap.push({loss(uint32_t(s)), uint32_t(s)});
    while (sum > target) {
      // Nonempty: sum > target >= number of present symbols implies some freq > 1.
      const uint32_t s = heap.top().second;
      heap.pop();
      freqs[s]--;
      sum--;
      if (freqs[s] > 1) heap.push({loss(s), s});
    }
  }
}

double coded_bits(const uint32_t* counts, const uint32_t* freqs, size_t alphabet,
                  int scale_bits) {
  double bits = 0;
  for (size_t s = 0; s < alphabet; ++s)
    if (counts[s]) bits += double(counts[s]) * (double(scale_bits) - std::log2(double(freqs[s])));
  return bits;
}

}  // namespace deepsz::codec_detail
