#!/usr/bin/env bash
# Peak memory of deepsz compress and decompress on the paper's large
# networks (issue 18, item 2; docs/RESULTS.md, "Memory at the paper's
# scale"). For AlexNet and VGG-16: create (untrained weights), mask the
# fully connected layers to the paper's densities by magnitude (AlexNet fc6
# 9%, fc7 9%, fc8 25%; VGG-16 fc6 4%, fc7 4%, fc8 23%: docs/PRUNING.md,
# /work/shared/DEEPSZ.md), compress (--fc-only, uncertified) and decompress,
# each under /usr/bin/time -v. Prints one table row a step: peak RSS, its
# ratio to the dense float32 bytes of the model, and the seconds.
# The weights are not trained, so the ratio is not the claim; memory is.
#   bench/memory.sh [BUILD_DIR] [WORK_DIR] [MODELS...]   (default: build/, a temp dir, alexnet vgg16)
# Environment: IMAGES (selection images, default 8), MAX_LOSS (default 1),
# MASKER (python, the default: mask_to_paper_python in bench/lib.sh; or
# deepsz: deepsz prune --score magnitude, a layer at a time, which takes over
# 15 minutes on VGG-16).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/bench/lib.sh"
bench_setup memory.sh "${1:-}" "${2:-}"
[[ -x /usr/bin/time ]] || { echo "memory.sh: needs GNU time (apt-get install time)" >&2; exit 1; }
shift $(( $# < 2 ? $# : 2 ))
MODELS=("$@")
((${#MODELS[@]})) || MODELS=(alexnet vgg16)
IMAGES="${IMAGES:-8}"
MAX_LOSS="${MAX_LOSS:-1}"
MASKER="${MASKER:-python}"

random_224_data "$WORK/data" "$IMAGES"
D=(--data "$WORK/data" --val "$IMAGES" --cert 0)

# measure NAME CMD...: runs CMD under time -v; prints peak RSS (MB), its
# ratio to the dense bytes, seconds.
measure() {
  local name="$1"; shift
  /usr/bin/time -v "$@" > "$WORK/$name.out" 2> "$WORK/$name.time" || { tail -5 "$WORK/$name.time" >&2; exit 1; }
  local kb secs
  kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/$name.time")
  secs=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$WORK/$name.time")
  awk -v m="$model" -v s="$name" -v kb="$kb" -v dense="$DENSE" -v t="$secs" \
    'BEGIN { printf "| %s | %s | %.0f | %.2fx | %s |\n", m, s, kb * 1024 / 1e6, kb * 1024 / dense, t }'
}

echo "| model | step | peak RSS (MB) | / dense float32 | wall (m:s) |"
echo "|---|---|---|---|---|"
for model in "${MODELS[@]}"; do
  paper_densities "$model" > /dev/null || exit 1
  m="$WORK/$model"
  "$DEEPSZ" create --model "$model" -o "$m.pt" > /dev/null
  params=$("$DEEPSZ" info "$m.pt" | sed -n "1s/.*, \([0-9]*\) parameters.*/\1/p")
  DENSE=$((params * 4))
  echo "| $model | dense float32 | $((DENSE / 1000000)) | 1.00x | |"
  measure "info" "$DEEPSZ" info "$m.pt"
  # Magnitude masks, one layer at a time.
  cp "$m.pt" "$m.pruned.pt"
  if [[ "$MASKER" == deepsz ]]; then
    prune_to_paper "$DEEPSZ" "$model" "$m.pruned.pt" "${D[@]}"
  else
    mask_to_paper_python "$model" "$m.pruned.pt"
  fi
  "$DEEPSZ" info "$m.pruned.pt" | grep -E '^fc[678]\.weight' | awk '{ printf "  %s density %s\n", $1, $5 }' >&2
  measure "compress" "$DEEPSZ" compress "$m.pruned.pt" "${D[@]}" --fc-only --max-loss "$MAX_LOSS" -q -o "$m.dsz"
  measure "decompress" "$DEEPSZ" decompress "$m.dsz" -q -o "$m.back.pt"
  echo "  $model: $(stat -c %s "$m.pt") bytes dense file, $(stat -c %s "$m.dsz") bytes .dsz" >&2
  rm -f "$m.pt" "$m.pruned.pt" "$m.back.pt"
done
