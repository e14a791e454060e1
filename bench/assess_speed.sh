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
BUILD="${1:-$ROOT/build}"
DEEPSZ="$BUILD/src/cli/deepsz"
MM="$ROOT/tests/interchange/make_models.py"
[[ -x "$DEEPSZ" ]] || { echo "assess_speed.sh: no $DEEPSZ (build first: scripts/setup.sh)" >&2; exit 1; }
WORK="${2:-}"
if [[ -z "$WORK" ]]; then WORK="$(mktemp -d "${TMPDIR:-/tmp}/deepsz-assess.XXXXXX")"; trap 'rm -rf "$WORK"' EXIT; fi
mkdir -p "$WORK"
model="${3:-alexnet}"
IMAGES="${IMAGES:-32}"
export OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1
case "$model" in
  alexnet) densities="fc6.weight=0.09 fc7.weight=0.09 fc8.weight=0.25" ;;
  vgg16) densities="fc6.weight=0.04 fc7.weight=0.04 fc8.weight=0.23" ;;
  *) echo "assess_speed.sh: unknown model $model (alexnet, vgg16)" >&2; exit 1 ;;
esac
/usr/bin/python3 - "$WORK/data" "$IMAGES" <<'PY'
import os, sys
import numpy as np
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d, exist_ok=True)
rng = np.random.default_rng(1)
for split, count in (("train", n + 2), ("test", 4)):
    np.save(f"{d}/{split}-images.npy", rng.integers(0, 256, (count, 224, 224, 3), dtype=np.uint8))
    np.save(f"{d}/{split}-labels.npy", (np.arange(count) % 10).astype(np.uint8))
PY
D=(--data "$WORK/data" --val "$IMAGES" --cert 0)
m="$WORK/$model"
"$DEEPSZ" create --model "$model" -o "$m.pt" > /dev/null
for td in $densities; do
  "$DEEPSZ" prune "$m.pt" "${D[@]}" --layers "${td%%=*}" --density "${td#*=}" --score magnitude \
    --step-epochs 0 --final-epochs 0 -q -o "$m.next.pt" > /dev/null
  mv "$m.next.pt" "$m.pt"
done
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
