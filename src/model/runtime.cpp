// Thread set-up: one BLAS thread, libtorch's intra-op pool sized to the cores.
#include "deepsz/model/runtime.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <cstdlib>
#include <thread>

namespace deepsz::model {
namespace {
int g_threads = 1;
}

void init_runtime(int threads) {
  // Before any BLAS call; the environment covers a BLAS loaded later, the
  // dlsym call one already initialised with its own thread pool.
  setenv("OPENBLAS_NUM_THREADS", "1", 1);
  setenv("OMP_NUM_THREADS", "1", 0);
  using SetThreads = void (*)(int);
  for (const char* sym : {"openblas_set_num_threads", "goto_set_num_threads", "bli_thread_set_num_threads"}) {
    if (auto fn = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, sym))) fn(1);
  }
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  g_threads = threads;
  at::set_num_threads(threads);
  try {
    at::set_num_interop_threads(1);
  } catch (...) {
    // Already set, or the pool already started: harmless.
  }
}

int runtime_threads() { return g_threads; }

}  // namespace deepsz::model
