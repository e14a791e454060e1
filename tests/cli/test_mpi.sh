#!/usr/bin/env bash
# deepsz compress under mpirun (docs/SCALE.md): the assessment split over two
# ranks must give the .dsz and the assessment table of one process, byte for
# byte; rank 0 alone prints and writes; a failure ends every rank with a
# nonzero exit and no output. Inputs: a tiny random IDX set and a LeNet-5
# trained on it for one epoch.
#   test_mpi.sh PATH/TO/deepsz mpi|none [PATH/TO/mpiexec]
# "none" (deepsz built without MPI) or no mpiexec: exit 77, skipped.
set -uo pipefail
DEEPSZ="$(realpath "$1")"
MODE="$2"
MPIEXEC="${3:-}"
if [[ "$MODE" != mpi || -z "$MPIEXEC" || ! -x "$MPIEXEC" ]]; then
  echo "skipped: deepsz was built without MPI or there is no mpiexec"
  exit 77
fi
PROG=deepsz
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
enter_work_dir deepsz-mpi-test
# Open MPI refuses root without both; CI runs as root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# More ranks than cores are allowed here, and they wait by yielding.
MPI=("$MPIEXEC" -np 2 --oversubscribe)

mkdir data
write_idx data train 400 28
write_idx data t10k 100 28
D=(--data data --val 60 --cert 60)
run_ok "train LeNet-5 for 1 epoch on the tiny set" "$DEEPSZ" train --model lenet5 "${D[@]}" --epochs 1 --threads 1 -o m.pt
C=(compress m.pt "${D[@]}" --max-loss 50)

run_ok "compress, one process" "$DEEPSZ" "${C[@]}" --threads 1 --assessment one.json -o one.dsz
grep -q "processes" err.log && fail "one process: logged a split: $(grep processes err.log)"
cp out.log one.out
run_ok "compress, mpirun -np 2" "${MPI[@]}" "$DEEPSZ" "${C[@]}" --threads 1 --assessment two.json -o two.dsz
grep -q "^assessment: .* tensors over 2 processes" err.log || fail "mpirun: no split logged: $(grep assessment err.log)"
cmp one.dsz two.dsz && ok "two ranks wrote the .dsz of one" || fail "two ranks: .dsz differs from one process"
cmp one.json two.json && ok "two ranks gathered the table of one" || fail "two ranks: assessment table differs"
# Rank 0 alone reports: one summary, as many lines as one process printed.
[[ $(wc -l < out.log) -eq $(wc -l < one.out) ]] || fail "mpirun: $(wc -l < out.log) lines of report, one process printed $(wc -l < one.out)"
ls two.dsz.* *.tmp 2> /dev/null && fail "mpirun: temporaries left behind"

# The default threads (cores shared among the ranks of a machine).
run_ok "compress, mpirun -np 2, default threads" "${MPI[@]}" "$DEEPSZ" "${C[@]}" -q -o three.dsz
cmp one.dsz three.dsz && ok "default threads: the same .dsz" || fail "default threads: .dsz differs"
# A saved table: rank 0's decision holds for every rank, nothing is measured.
run_ok "compress, mpirun -np 2, table reused" "${MPI[@]}" "$DEEPSZ" "${C[@]}" --assessment two.json -o four.dsz
grep -q "assessment: reusing" err.log || fail "mpirun: table not reused: $(grep assessment err.log)"
cmp one.dsz four.dsz && ok "table reused: the same .dsz" || fail "table reused: .dsz differs"

# Failures: before the split (every rank), and on the way to rank 0's write.
"${MPI[@]}" "$DEEPSZ" compress nofile.pt "${D[@]}" --max-loss 50 -o bad.dsz > out.log 2> err.log
rc=$?
[[ $rc -ne 0 ]] || fail "mpirun on a missing model: exit 0"
grep -q "^deepsz: .*no such file" err.log || fail "mpirun on a missing model: no error line: $(head -3 err.log)"
[[ -e bad.dsz ]] && fail "mpirun on a missing model: output written"
"${MPI[@]}" "$DEEPSZ" "${C[@]}" -q -o nodir/bad.dsz > out.log 2> err.log
rc=$?
[[ $rc -ne 0 ]] || fail "mpirun into a missing directory: exit 0"
grep -q "^deepsz: .*does not exist" err.log || fail "mpirun into a missing directory: no error line: $(head -3 err.log)"
ok "failures under mpirun: exit $rc"
finish
