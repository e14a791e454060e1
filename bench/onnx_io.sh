#!/usr/bin/env bash
# What the ONNX format costs on a large network (issue 17, second target;
# docs/RESULTS.md, "ONNX through the pipeline"): the same pruned model as a
# deepsz .pt and as an ONNX export, compressed (--fc-only, uncertified) and
# decompressed each way under /usr/bin/time -v, side by side; prints one row
# a step with seconds and peak RSS, and the .dsz sizes.
# The weights are not trained (deepsz create), masked to the paper's fc
# densities by magnitude as bench/memory.sh does.
#   bench/onnx_io.sh [BUILD_DIR] [WORK_DIR] [MODEL]   (default: build/, a temp dir, vgg16)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/bench/lib.sh"
bench_setup onnx_io.sh "${1:-}" "${2:-}"
MM="$ROOT/tests/interchange/make_models.py"
model="${3:-vgg16}"
paper_densities "$model" > /dev/null || exit 1

random_224_data "$WORK/data" 8
D=(--data "$WORK/data" --val 8 --cert 0)
m="$WORK/$model"
"$DEEPSZ" create --model "$model" -o "$m.pt" > /dev/null
prune_to_paper "$DEEPSZ" "$model" "$m.pt" "${D[@]}"
/usr/bin/python3 "$MM" export-onnx "$m.pt" "$m.onnx"

measure() {  # NAME CMD...: seconds and peak RSS of CMD
  local name="$1"; shift
  /usr/bin/time -v "$@" > "$WORK/$name.out" 2> "$WORK/$name.time" || { tail -5 "$WORK/$name.time" >&2; exit 1; }
  local kb secs
  kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/$name.time")
  secs=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$WORK/$name.time")
  awk -v m="$model" -v s="$name" -v t="$secs" -v kb="$kb" 'BEGIN { printf "| %s | %s | %s | %.0f |\n", m, s, t, kb * 1024 / 1e6 }'
}
echo "| model | step | wall (m:s) | peak RSS (MB) |"
echo "|---|---|---|---|"
for round in 1 2; do  # twice, interleaved: the machine's noise shows
  for f in pt onnx; do
    measure "compress .$f ($round)" "$DEEPSZ" compress "$m.$f" "${D[@]}" --fc-only --max-loss 1 -q -o "$m-$f.dsz"
    measure "decompress .$f ($round)" "$DEEPSZ" decompress "$m-$f.dsz" -q -o "$m-back.$f"
  done
done
echo "  $model: .pt $(stat -c %s "$m.pt") bytes, .onnx $(stat -c %s "$m.onnx") bytes; .dsz from .pt $(stat -c %s "$m-pt.dsz"), from .onnx $(stat -c %s "$m-onnx.dsz")" >&2
