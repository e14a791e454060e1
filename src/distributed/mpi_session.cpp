// MPI_COMM_WORLD behind pipeline::Collective (docs/SCALE.md). The only file
// that includes mpi.h: the pipeline and the CLI compile without it.
// The C API only: Open MPI's deprecated C++ bindings need libmpi_cxx.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <climits>
#include <cstdlib>

#include "deepsz/distributed.h"
#include "deepsz/error.h"

namespace deepsz::distributed {
namespace {

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw Error(ErrorCode::io_error, std::string(what) + ": " + std::string(text, size_t(len)));
}

int checked_length(size_t n) {
  if (n > size_t(INT_MAX)) throw Error(ErrorCode::too_large, "MPI message of " + std::to_string(n) + " bytes");
  return int(n);
}

}  // namespace

bool launched_by_mpi() {
  // Open MPI's mpirun sets the first, PMIx launchers the second, MPICH's
  // Hydra the third.
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"})
    if (std::getenv(v)) return true;
  return false;
}

MpiSession::MpiSession() {
  check(MPI_Init(nullptr, nullptr), "MPI_Init");
  // Errors come back as codes (then exceptions), not as an abort inside MPI.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
  MPI_Comm local;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local),
        "MPI_Comm_split_type");
  check(MPI_Comm_size(local, &local_size_), "MPI_Comm_size");
  MPI_Comm_free(&local);
}

MpiSession::~MpiSession() { MPI_Finalize(); }

std::vector<std::string> MpiSession::all_gather(const std::string& mine) {
  const int n = checked_length(mine.size());
  std::vector<int> lengths(size_t(size_), 0), offsets(size_t(size_), 0);
  check(MPI_Allgather(&n, 1, MPI_INT, lengths.data(), 1, MPI_INT, MPI_COMM_WORLD), "MPI_Allgather");
  size_t total = 0;
  for (int r = 0; r < size_; ++r) {
    offsets[size_t(r)] = checked_length(total);
    total += size_t(lengths[size_t(r)]);
  }
  checked_length(total);
  std::string all(total, '\0');
  check(MPI_Allgatherv(mine.data(), n, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR,
                       MPI_COMM_WORLD),
        "MPI_Allgatherv");
  std::vector<std::string> parts;
  for (int r = 0; r < size_; ++r) parts.push_back(all.substr(size_t(offsets[size_t(r)]), size_t(lengths[size_t(r)])));
  return parts;
}

std::string MpiSession::broadcast(const std::string& value) {
  int n = rank_ == 0 ? checked_length(value.size()) : 0;
  check(MPI_Bcast(&n, 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Bcast");
  std::string out = rank_ == 0 ? value : std::string(size_t(n), '\0');
  check(MPI_Bcast(out.data(), n, MPI_CHAR, 0, MPI_COMM_WORLD), "MPI_Bcast");
  return out;
}

void MpiSession::abort(int exit_code) {
  MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::_Exit(exit_code);  // MPI_Abort does not return; this is for the compiler
}

}  // namespace deepsz::distributed
