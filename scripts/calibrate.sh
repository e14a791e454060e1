#!/usr/bin/env bash
# The calibration study of docs/RESULTS.md ("Calibration"): `deepsz run
# --json` for each model and seed, certified (the default) and with
# `--cert 0` (the rule before certification), budget 0.3 points against the
# dense model. One markdown row per run on stdout, each run's JSON object
# (or its error) kept in $CACHE/calibration/.
#   scripts/calibrate.sh [--models "lenet300 lenet5"] [--seeds "1 2 3"] [--modes "certified uncertified"]
#   (modes: certified = the default rule; selection / training = certified with
#   `--decide selection|training`; uncertified = `--cert 0`)
#                        [--cache DIR] [--data DIR] [--confidence C]      (DEEPSZ=... or BUILD_DIR=... picks the binary)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
DEEPSZ="${DEEPSZ:-$BUILD_DIR/src/cli/deepsz}"
CACHE="${HOME:-.}/.cache/deepsz"
MODELS="lenet300 lenet5"
SEEDS="1 2 3"
MODES="certified uncertified"
DATA=()
CONF=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --models) MODELS="$2"; shift 2 ;;
    --seeds) SEEDS="$2"; shift 2 ;;
    --modes) MODES="$2"; shift 2 ;;
    --cache) CACHE="$2"; shift 2 ;;
    --data) DATA=(--data "$2"); shift 2 ;;
    --confidence) CONF=(--confidence "$2"); shift 2 ;;
    *) echo "calibrate.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -x "$DEEPSZ" ]] || { echo "calibrate.sh: no deepsz at $DEEPSZ (build first: scripts/setup.sh)" >&2; exit 1; }
OUT="$CACHE/calibration"
mkdir -p "$OUT"
echo "# machine: $(nproc) cores, $(uname -srm); load average at start: $(cut -d' ' -f1-3 /proc/loadavg); cache: $CACHE"
printf '| model | seed | rule | ratio | selection drop | certification drop | bound | test drop | test drop > 0.3 | run s |\n'
printf '|---|---|---|---|---|---|---|---|---|---|\n'
for model in $MODELS; do
  for seed in $SEEDS; do
    for mode in $MODES; do
      flags=()
      [[ "$mode" == uncertified ]] && flags=(--cert 0)
      [[ "$mode" == selection ]] && flags=(--decide selection)    # certified, prune decides on the selection split
      [[ "$mode" == training ]] && flags=(--decide training)      # certified, on training images
      name="$OUT/$model-s$seed-$mode"
      start=$(date +%s)
      if "$DEEPSZ" run --model "$model" --seed "$seed" --max-loss 0.3 --json -q --cache "$CACHE" \
          "${DATA[@]}" "${CONF[@]}" "${flags[@]}" >"$name.json" 2>"$name.log"; then
        secs=$(( $(date +%s) - start ))
        jq -r --arg mode "$mode" --arg secs "$secs" '
          def pp: if . == null then "-" else (. * 100 | round / 100 | tostring) end;
          "| \(.model) | \(.seed) | \($mode) | \(.ratio * 10 | round / 10)x | \(.drop_vs_dense_pp.val | pp) | " +
          "\(.drop_vs_dense_pp.cert | pp) | \(.bound_pp | pp) | \(.drop_vs_dense_pp.test | pp) | " +
          "\(if .drop_vs_dense_pp.test > 0.3 then "**yes**" else "no" end) | \($secs) |"' "$name.json"
      else
        secs=$(( $(date +%s) - start ))
        why=$(grep -m1 -o 'not certified.*' "$name.log" | cut -c1-120 || true)
        printf '| %s | %s | %s | refused: nothing written | | | | | | %s |\n' "$model" "$seed" "$mode" "$secs"
        [[ -n "$why" ]] || { echo "calibrate.sh: $model seed $seed $mode failed: $(tail -1 "$name.log")" >&2; }
      fi
    done
  done
done
