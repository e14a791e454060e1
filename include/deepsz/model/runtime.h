// deepsz/model/runtime.h: process-wide set-up for the libtorch runtime.
#pragma once

namespace deepsz::model {

// Pins the BLAS library to one thread (otherwise OpenBLAS threads fight
// libtorch's intra-op threads: training runs 3-30x slower) and sets libtorch's
// intra-op thread count. threads <= 0: the number of cores. Call once, first.
void init_runtime(int threads = 0);

// The thread count set by init_runtime (recorded in trained models, since
// bit-identical results need the same count).
int runtime_threads();

}  // namespace deepsz::model
