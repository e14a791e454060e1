#!/usr/bin/env bash
# CI: everything built with AddressSanitizer + UBSan (-DDEEPSZ_SANITIZE=ON)
# and its tests run: the codec, the format, the optimiser, dsz and its CLI
# tests. With WITH_TORCH=1 also the model layer, the pipeline and the deepsz
# CLI tests (libtorch itself is not instrumented; see docs/HARDENING.md).
# Every CTest test runs, none is left out: under ASan the two deepsz CLI
# groups take about 1.5 and 2 minutes (each start of deepsz loads libtorch).
# Figures (build and test seconds): docs/HARDENING.md, "Sanitizers".
#   scripts/sanitize.sh            Env: BUILD_DIR (default build-sanitize,
#                                  build-sanitize-torch with WITH_TORCH=1),
#                                  JOBS (default 2), WITH_TORCH (0 or 1).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOBS="${JOBS:-2}"
WITH_TORCH="${WITH_TORCH:-0}"
if [[ "$WITH_TORCH" == 1 ]]; then
  BUILD_DIR="${BUILD_DIR:-$ROOT/build-sanitize-torch}"
  TORCH=ON
else
  BUILD_DIR="${BUILD_DIR:-$ROOT/build-sanitize}"
  TORCH=OFF
fi
start=$(date +%s)
cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DDEEPSZ_SANITIZE=ON -DDEEPSZ_WITH_TORCH=$TORCH \
  -DDEEPSZ_TESTS=ON -DDEEPSZ_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build "$BUILD_DIR" -j"$JOBS"
built=$(date +%s)
# Leak detection and the new/delete-vs-malloc/free check stay on, with
# libtorch too: the whole torch run passes with them (libtorch's static state
# stays reachable at exit, so LeakSanitizer does not report it). No report of
# ASan or UBSan is suppressed.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:alloc_dealloc_mismatch=1:abort_on_error=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
status=0
ctest --test-dir "$BUILD_DIR" -j"$JOBS" --output-on-failure --timeout 900 || status=$?
end=$(date +%s)
echo "sanitize.sh (torch $TORCH): build $((built - start)) s, tests $((end - built)) s"
exit $status
