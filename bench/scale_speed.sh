#!/usr/bin/env bash
# Codec speed at the paper's scale (issue 18, item 3; docs/RESULTS.md,
# "Scale"): on the fully connected layers of VGG-16 pruned to the paper's
# densities (deepsz create, the largest magnitudes kept),
#  1. decode throughput of one thread on each fc layer (dsz bench: output
#     float32 bytes per second, best of 3), beside zstd -3 and ZFP;
#  2. whole-process dsz compress / decompress of fc6 with --threads 1 and 2;
#  3. whole-process dsz decompress of a 100 MB pruned-like array against
#     zstd -d of its zstd -3 file, both writing the 100 MB output.
# Each timing is the best of 3 runs, side by side in one run of the script.
#   bench/scale_speed.sh [BUILD_DIR] [WORK_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/bench/lib.sh"
bench_setup scale_speed.sh "${1:-}" "${2:-}"
[[ -x "$DSZ" ]] || { echo "scale_speed.sh: no $DSZ (build first: scripts/setup.sh)" >&2; exit 1; }
command -v zstd > /dev/null || { echo "scale_speed.sh: needs zstd" >&2; exit 1; }
B=1e-3  # the bound: of the order the assessment picks for fc layers

# best CMD...: the best wall time of 3 runs, in seconds.
best() {
  local t b=""
  for _ in 1 2 3; do
    t=$(/usr/bin/time -f %e "$@" 2>&1 > /dev/null | tail -1)
    if [[ -z "$b" ]] || awk -v a="$t" -v b="$b" 'BEGIN { exit !(a < b) }'; then b="$t"; fi
  done
  echo "$b"
}

# VGG-16's fc layers at the paper's densities, as raw float32 files: the
# created (untrained) weights, the largest magnitudes kept, as
# `deepsz prune --score magnitude --density D` of one layer keeps them.
m="$WORK/vgg16"
"$DEEPSZ" create --model vgg16 -o "$m.pt" > /dev/null
rm -rf "$WORK/raw"; mkdir "$WORK/raw"
/usr/bin/python3 - "$m.pt" "$WORK/raw" <<'PY'
import sys, numpy as np, torch
d = torch.load(sys.argv[1])
for name, density in (("fc6.weight", 0.04), ("fc7.weight", 0.04), ("fc8.weight", 0.23)):
    w = d["parameters"][name].float().numpy().ravel().copy()
    keep = int(round(density * w.size))
    cut = np.argpartition(np.abs(w), w.size - keep)[: w.size - keep]
    w[cut] = 0.0
    w.tofile(f"{sys.argv[2]}/{name}.f32")
PY
rm -f "$m.pt"

echo "## 1. decode, one thread (dsz bench --abs $B)"
for l in fc6 fc7 fc8; do
  f=$(ls "$WORK/raw/$l.weight"* | head -1)
  echo "### $l.weight ($(($(stat -c %s "$f") / 1000000)) MB)"
  "$DSZ" bench "$f" --abs "$B" --threads 1
done

echo "## 2. dsz compress / decompress of fc6.weight, whole process, best of 3"
f=$(ls "$WORK/raw/fc6.weight"* | head -1)
echo "| step | --threads 1 (s) | --threads 2 (s) | speed-up |"
echo "|---|---|---|---|"
c1=$(best "$DSZ" compress --abs "$B" --threads 1 "$f" "$WORK/fc6.1.dsz")
c2=$(best "$DSZ" compress --abs "$B" --threads 2 "$f" "$WORK/fc6.2.dsz")
cmp -s "$WORK/fc6.1.dsz" "$WORK/fc6.2.dsz" || echo "  (the .dsz differs between 1 and 2 threads)" >&2
d1=$(best "$DSZ" decompress --threads 1 "$WORK/fc6.1.dsz" "$WORK/fc6.out")
d2=$(best "$DSZ" decompress --threads 2 "$WORK/fc6.1.dsz" "$WORK/fc6.out")
awk -v a="$c1" -v b="$c2" 'BEGIN { printf "| compress | %.3f | %.3f | %.2fx |\n", a, b, a / b }'
awk -v a="$d1" -v b="$d2" 'BEGIN { printf "| decompress | %.3f | %.3f | %.2fx |\n", a, b, a / b }'

echo "## 3. 100 MB array: dsz decompress against zstd -d, whole process, best of 3"
"$BUILD/tests/cli/dsz_cli_helper" gen "$WORK/big.f32" 25000000 0.1 7 > /dev/null
"$DSZ" compress --abs "$B" --threads 1 "$WORK/big.f32" "$WORK/big.dsz" > /dev/null
zstd -3 -q -f "$WORK/big.f32" -o "$WORK/big.zst"
t_dsz=$(best "$DSZ" decompress --threads 1 "$WORK/big.dsz" "$WORK/big.out")
t_zstd=$(best zstd -d -q -f "$WORK/big.zst" -o "$WORK/big.zout")
echo "| tool | file bytes | decompress (s) | / zstd -d |"
echo "|---|---|---|---|"
awk -v t="$t_dsz" -v z="$t_zstd" -v n="$(stat -c %s "$WORK/big.dsz")" 'BEGIN { printf "| dsz decompress --threads 1 | %d | %.3f | %.2fx |\n", n, t, t / z }'
awk -v z="$t_zstd" -v n="$(stat -c %s "$WORK/big.zst")" 'BEGIN { printf "| zstd -d | %d | %.3f | 1.00x |\n", n, z }'
