// deepsz/pipeline/collective.h: the assessment split over processes.
//
// The pipeline knows nothing of MPI: it sees this interface, which
// src/distributed implements on MPI (docs/SCALE.md). Every process runs the
// same compress on the same model and data; each measures its share of the
// tensors, the shares are gathered, and only rank 0 goes on to optimise,
// certify and write. Without one (the default), compress runs as before.
#pragma once

#include <string>
#include <vector>

namespace deepsz::pipeline {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Every process's `mine`, indexed by rank, on every process. A collective
  // call: every rank calls it the same number of times, in the same order.
  virtual std::vector<std::string> all_gather(const std::string& mine) = 0;
  // Rank 0's `value` on every rank (the others' argument is ignored).
  virtual std::string broadcast(const std::string& value) = 0;
  // Called once this process will make no more collective calls (rank 0
  // after the last gather, the others when their part is done): an error
  // after it no longer needs to abort the others.
  virtual void done() = 0;
  // Intra-op threads for rank 0 once the assessment is gathered (the other
  // ranks of its machine have finished): 0 keeps the count it has.
  virtual int threads_after_assessment() const { return 0; }
};

}  // namespace deepsz::pipeline
