// Random assessment tables for the optimiser tests.
#pragma once

#include <cmath>
#include <random>

#include "deepsz/optimize.h"

namespace deepsz::testing {

// A candidate whose drop is consistent with its flip counts on `images`.
inline Candidate candidate_with_flips(double bound, uint64_t bytes, uint64_t correct_to_wrong,
                                      uint64_t wrong_to_correct, uint64_t images) {
  Candidate c;
  c.abs_error_bound = bound;
  c.index_bytes = bytes / 4;
  c.value_bytes = bytes - bytes / 4;
  c.correct_to_wrong = correct_to_wrong;
  c.wrong_to_correct = wrong_to_correct;
  c.images = images;
  c.top1_drop = 100.0 * (static_cast<double>(correct_to_wrong) - static_cast<double>(wrong_to_correct)) /
                static_cast<double>(images);
  return c;
}

// Layers with 1..max_candidates candidates: bytes falling with the bound,
// noisy drops (some negative), ties in bytes on purpose.
inline AssessmentTable random_table(std::mt19937_64& rng, size_t layers, size_t max_candidates,
                                    uint64_t images = 10000) {
  AssessmentTable table;
  table.model = "synthetic";
  table.images = images;
  table.reference_top1 = 98.0;
  std::uniform_int_distribution<size_t> count(1, max_candidates);
  std::uniform_int_distribution<int> flips(0, 40);
  std::uniform_int_distribution<int> coin(0, 3);
  for (size_t l = 0; l < layers; ++l) {
    LayerAssessment layer;
    layer.name = "layer" + std::to_string(l);
    layer.elements = 1000 * (l + 1);
    layer.density = 0.1;
    uint64_t bytes = 4000 + 100 * (rng() % 50);
    layer.candidates.push_back(lossless_candidate(bytes / 4, bytes - bytes / 4, images));
    const size_t n = count(rng);
    double bound = 1e-3;
    for (size_t k = 1; k < n; ++k) {
      if (coin(rng) != 0) bytes -= std::min<uint64_t>(bytes - 1, 100 + rng() % 1500);  // else a tie
      const uint64_t c2w = static_cast<uint64_t>(flips(rng) * static_cast<int>(k));
      const uint64_t w2c = static_cast<uint64_t>(flips(rng));
      layer.candidates.push_back(candidate_with_flips(bound, bytes, c2w, w2c, images));
      bound *= 2.0;
    }
    table.layers.push_back(std::move(layer));
  }
  return table;
}

}  // namespace deepsz::testing
