#!/usr/bin/env bash
# Regenerates the figures of docs/RESULTS.md: for LeNet-300-100 and LeNet-5
# on Fashion-MNIST, a 0.3-point validation budget against the dense model:
# the default pipeline, --paper and --codec zfp on the same pruned model, the
# times of compress and decompress, and the drops. Models are trained and
# pruned once (cached by `deepsz run`), unless a pruned model is given.
#   scripts/results.sh [--data DIR] [--cache DIR] [--lenet300 PRUNED.pt] [--lenet5 PRUNED.pt]
#                      [--only lenet300|lenet5]      (BUILD_DIR=... to pick a build)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
DEEPSZ="$BUILD_DIR/src/cli/deepsz"
CACHE="${HOME:-.}/.cache/deepsz"
DATA=()
declare -A GIVEN=()
ARCHS=(lenet300 lenet5)
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cache) CACHE="$2"; shift 2 ;;
    --data) DATA=(--data "$2"); shift 2 ;;
    --lenet300|--lenet5) GIVEN[${1#--}]="$2"; shift 2 ;;
    --only) ARCHS=("$2"); shift 2 ;;
    *) echo "results.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -x "$DEEPSZ" ]] || { cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja >/dev/null; cmake --build "$BUILD_DIR" -j"$(nproc)" --target deepsz; }
OUT="$CACHE/results"
mkdir -p "$OUT"
echo "# machine: $(nproc) cores, $(uname -srm); load average at start: $(cut -d' ' -f1-3 /proc/loadavg); cache: $CACHE"
printf '| model | method | ratio | .dsz bytes | val drop (budget) | 95%% bound | test drop | vs dense val / test | compress s | decompress s |\n'
printf '|---|---|---|---|---|---|---|---|---|---|\n'
for arch in "${ARCHS[@]}"; do
  if [[ -n "${GIVEN[$arch]:-}" ]]; then
    pruned="${GIVEN[$arch]}"
    echo "(given model: $pruned)" >"$OUT/$arch-run.txt"
  else
    # Trains and prunes once (cached), and runs the default pipeline.
    "$DEEPSZ" run --model "$arch" --cache "$CACHE" -q "${DATA[@]}" >"$OUT/$arch-run.txt"
    # The pruned model deepsz run chose (the sparsest or a denser alternative).
    pruned="$(sed -n 's/^pruned model: //p' "$OUT/$arch-run.txt")"
    [[ -f "$pruned" ]] || { echo "results.sh: deepsz run named no pruned model (see $OUT/$arch-run.txt)" >&2; exit 1; }
  fi
  for method in default paper zfp; do
    case "$method" in
      default) flags=() ;;
      paper) flags=(--paper) ;;
      zfp) flags=(--codec zfp) ;;
    esac
    start=$(date +%s.%N)
    "$DEEPSZ" compress "$pruned" --max-loss 0.3 -q "${DATA[@]}" "${flags[@]}" \
      -o "$OUT/$arch-$method.dsz" --report "$OUT/$arch-$method.json" >/dev/null
    end=$(date +%s.%N)
    dstart=$(date +%s.%N)
    "$DEEPSZ" decompress "$OUT/$arch-$method.dsz" -q -o "$OUT/$arch-$method-restored.pt"
    dend=$(date +%s.%N)
    /usr/bin/python3 - "$OUT/$arch-$method.json" "$arch" "$method" "$start" "$end" "$dstart" "$dend" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
arch, method = sys.argv[2], sys.argv[3]
c = float(sys.argv[5]) - float(sys.argv[4]); d = float(sys.argv[7]) - float(sys.argv[6])
ucb = j["drop_upper_bound_pp"]
print(f"| {arch} | {method} | {j['ratio']:.1f}x | {j['dsz_bytes']} | {j['measured_drop_pp']:.2f} ({j['budget_pp']:.2f}) | "
      f"{ucb if ucb is None else round(ucb, 2)} | {j['test_drop_pp']:.2f} | "
      f"{j['val_drop_vs_dense_pp']:.2f} / {j['test_drop_vs_dense_pp']:.2f} | {c:.1f} (in-process {j['seconds']['total']:.1f}) | {d:.2f} |")
PY
  done
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
for arch in "${ARCHS[@]}"; do echo "## deepsz run --model $arch"; cat "$OUT/$arch-run.txt"; done
