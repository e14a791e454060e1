#!/usr/bin/env bash
# Images per second of the assessment at 224x224 (issue 18, item 4;
# docs/RESULTS.md, "Scale"): the same pruned AlexNet (or VGG-16) as a deepsz
# .pt, whose evaluator reuses the activations entering the first changed
# layer, and as its ONNX export, which runs the whole graph for every
# candidate; `compress --fc-only --cert 0` on IMAGES random 224x224 selection
# images, side by side. images/s = candidates x images / assessment seconds.
#   bench/assess_speed.sh [BUILD_DIR] [WORK_DIR] [alexnet|vgg16]   (IMAGES, default 32)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/bench/lib.sh"
bench_setup assess_speed.sh "${1:-}" "${2:-}"
MM="$ROOT/tests/interchange/make_models.py"
model="${3:-alexnet}"
IMAGES="${IMAGES:-32}"
paper_densities "$model" > /dev/null || exit 1
random_224_data "$WORK/data" "$IMAGES"
D=(--data "$WORK/data" --val "$IMAGES" --cert 0)
m="$WORK/$model"
"$DEEPSZ" create --model "$model" -o "$m.pt" > /dev/null
prune_to_paper "$DEEPSZ" "$model" "$m.pt" "${D[@]}"
/usr/bin/python3 "$MM" export-onnx "$m.pt" "$m.onnx"
echo "| $model, $IMAGES images | candidates | assessment (s) | images/s | / full forward |"
echo "|---|---|---|---|---|"
declare -A ips
for f in pt onnx; do
  "$DEEPSZ" compress "$m.$f" "${D[@]}" --fc-only --max-loss 1 --json -q -o "$m-$f.dsz" > "$WORK/$f.json"
  n=$(jq '.assessed_candidates' "$WORK/$f.json")
  s=$(jq '.seconds.assess' "$WORK/$f.json")
  ips[$f]=$(awk -v n="$n" -v s="$s" -v i="$IMAGES" 'BEGIN { printf "%.1f", n * i / s }')
  echo "$f $n $s ${ips[$f]}" > "$WORK/$f.row"
done
for f in pt onnx; do
  read -r _ n s v < "$WORK/$f.row"
  label=$([[ $f == pt ]] && echo "deepsz .pt (activation reuse)" || echo "ONNX export (full forward)")
  awk -v l="$label" -v n="$n" -v s="$s" -v v="$v" -v o="${ips[onnx]}" \
    'BEGIN { printf "| %s | %d | %.1f | %s | %.2fx |\n", l, n, s, v, v / o }'
done
