// deepsz/distributed.h: the assessment over MPI ranks (docs/SCALE.md).
// Built only where CMake finds MPI (DEEPSZ_HAVE_MPI); without it deepsz runs
// as one process, unchanged.
#pragma once

#include <memory>
#include <string>

#include "deepsz/pipeline/collective.h"

namespace deepsz::distributed {

// True when an MPI launcher (mpirun) started this process: read from the
// environment, before and without MPI_Init, so a plain `deepsz compress`
// never initialises MPI.
bool launched_by_mpi();

// MPI_COMM_WORLD as the pipeline's Collective. MPI_Init on construction,
// MPI_Finalize on destruction; one per process.
class MpiSession final : public pipeline::Collective {
 public:
  MpiSession();
  ~MpiSession() override;
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  // Ranks on this machine (MPI_COMM_TYPE_SHARED): they share its cores.
  int local_size() const { return local_size_; }
  std::vector<std::string> all_gather(const std::string& mine) override;
  std::string broadcast(const std::string& value) override;
  void done() override { done_ = true; }
  bool is_done() const { return done_; }
  int threads_after_assessment() const override { return threads_after_; }
  void set_threads_after_assessment(int t) { threads_after_ = t; }
  // Ends every rank (MPI_Abort): for an error while others may wait in a
  // collective call for this one.
  [[noreturn]] void abort(int exit_code);

 private:
  int rank_ = 0, size_ = 1, local_size_ = 1, threads_after_ = 0;
  bool done_ = false;
};

}  // namespace deepsz::distributed
