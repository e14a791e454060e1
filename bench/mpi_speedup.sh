#!/usr/bin/env bash
# Speed-up of the assessment split over MPI ranks (issue 18, item 5;
# docs/SCALE.md). Runs `deepsz compress MODEL` once as one process and once
# under `mpirun -np N`, every rank with --threads 1 (one core each), and
# prints the assessment's seconds of each (from --json) and their ratio. The
# two .dsz must be byte-identical. On one machine N must not exceed its cores
# for the ratio to mean anything.
#   bench/mpi_speedup.sh MODEL [N] [extra compress args...]
# Environment: BUILD_DIR (default build/), DATA (default Debian's
# Fashion-MNIST), MAX_LOSS (default 0.3).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEEPSZ="${BUILD_DIR:-$ROOT/build}/src/cli/deepsz"
MODEL="${1:?usage: bench/mpi_speedup.sh MODEL [N] [compress args...]}"
N="${2:-2}"
shift $(( $# < 2 ? $# : 2 ))
[[ -x "$DEEPSZ" ]] || { echo "mpi_speedup.sh: no $DEEPSZ (build first)" >&2; exit 1; }
command -v mpirun > /dev/null || { echo "mpi_speedup.sh: no mpirun (apt-get install openmpi-bin)" >&2; exit 1; }
WORK="$(mktemp -d "${TMPDIR:-/tmp}/deepsz-mpi.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
export OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ARGS=(compress "$MODEL" --max-loss "${MAX_LOSS:-0.3}" --threads 1 --json -q)
[[ -n "${DATA:-}" ]] && ARGS+=(--data "$DATA")
ARGS+=("$@")

"$DEEPSZ" "${ARGS[@]}" -o "$WORK/one.dsz" > "$WORK/one.json"
mpirun -np "$N" --oversubscribe --bind-to none "$DEEPSZ" "${ARGS[@]}" -o "$WORK/many.dsz" > "$WORK/many.json"
cmp -s "$WORK/one.dsz" "$WORK/many.dsz" || { echo "mpi_speedup.sh: the .dsz of $N ranks differs from one process" >&2; exit 1; }
one=$(jq '.seconds.assess' "$WORK/one.json")
many=$(jq '.seconds.assess' "$WORK/many.json")
awk -v n="$N" -v a="$one" -v b="$many" -v c="$(jq '.assessed_candidates // 0' "$WORK/one.json")" 'BEGIN {
  printf "| ranks | assessment s | speed-up |\n|---|---|---|\n| 1 | %.1f | 1.00x |\n| %d | %.1f | %.2fx |\n", a, n, b, a / b
  printf "(%s candidates; the two .dsz byte-identical)\n", c }'
