#!/usr/bin/env bash
# Builds the libFuzzer targets with clang, writes the seed corpus with the
# project's own encoders and runs every target for SECONDS each.
#   scripts/fuzz.sh [SECONDS] [TARGET...]     (default 20 s, all targets)
# Env: BUILD_DIR (default build-fuzz), JOBS (default 2). A crash leaves its
# reproducer in $BUILD_DIR/fuzz-artifacts/<target>/ and makes the script fail;
# replay one with: $BUILD_DIR/fuzz/<target> <file>.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-fuzz}"
JOBS="${JOBS:-2}"
SECONDS_EACH="${1:-20}"
shift || true
TARGETS=(fuzz_container fuzz_float_stream fuzz_index_stream fuzz_idx fuzz_npy fuzz_float_round_trip
  fuzz_index_round_trip fuzz_report fuzz_safetensors fuzz_weights_container)
[[ "$SECONDS_EACH" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: SECONDS must be a whole number" >&2; exit 2; }

CC=clang CXX=clang++ cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja \
  -DDEEPSZ_FUZZ=ON -DDEEPSZ_WITH_TORCH=OFF -DDEEPSZ_TESTS=OFF -DDEEPSZ_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# fuzz_onnx exists where libonnx-dev was found.
if cmake --build "$BUILD_DIR" --target help | grep -q '^fuzz_onnx:'; then TARGETS+=(fuzz_onnx); fi
if [[ $# -gt 0 ]]; then TARGETS=("$@"); fi
cmake --build "$BUILD_DIR" -j"$JOBS" --target fuzz_make_seeds "${TARGETS[@]}"

SEEDS="$BUILD_DIR/fuzz-seeds"
rm -rf "$SEEDS"
"$BUILD_DIR/fuzz/fuzz_make_seeds" "$SEEDS"
# The report renderer's seeds: the fixture report alone, and with its table
# after a NUL (fuzz/fuzz_report.cpp).
mkdir -p "$SEEDS/fuzz_report"
cp "$ROOT/tests/report/data/handmade_lenet300_report.json" "$SEEDS/fuzz_report/report.json"
{ cat "$ROOT/tests/report/data/handmade_lenet300_report.json"; printf '\0'
  cat "$ROOT/tests/report/data/handmade_lenet300_assessment.json"; } > "$SEEDS/fuzz_report/report_and_table"

# The ONNX seeds: make_models.py's LeNets (python3-onnx), when it is there.
mkdir -p "$SEEDS/fuzz_onnx"
if /usr/bin/python3 -c "import onnx, numpy" 2> /dev/null; then
  for net in lenet300 lenet5; do
    /usr/bin/python3 "$ROOT/tests/interchange/make_models.py" onnx "$SEEDS/fuzz_onnx/$net.onnx" --net "$net"
  done
fi

status=0
for t in "${TARGETS[@]}"; do
  corpus="$BUILD_DIR/fuzz-corpus/$t"
  artifacts="$BUILD_DIR/fuzz-artifacts/$t"
  mkdir -p "$corpus" "$artifacts" "$SEEDS/$t"
  max_len=65536
  [[ $t == *round_trip ]] && max_len=16384  # encoders are the slow side
  [[ $t == fuzz_onnx ]] && max_len=1100000  # the LeNet-300-100 seed is 1.07 MB
  echo "== $t: ${SECONDS_EACH}s"
  if ! ASAN_OPTIONS="${ASAN_OPTIONS:-allocator_may_return_null=1:detect_leaks=1}" \
       UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
       "$BUILD_DIR/fuzz/$t" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 \
         -max_len=$max_len -timeout=20 -print_final_stats=1 \
         -artifact_prefix="$artifacts/" "$corpus" "$SEEDS/$t" \
         2> "$BUILD_DIR/fuzz-$t.log"; then
    echo "!! $t failed; log: $BUILD_DIR/fuzz-$t.log; reproducers:" >&2
    ls "$artifacts" >&2 || true
    tail -40 "$BUILD_DIR/fuzz-$t.log" >&2
    status=1
  fi
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$BUILD_DIR/fuzz-$t.log" || true
done
exit $status
