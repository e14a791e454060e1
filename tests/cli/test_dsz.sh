#!/usr/bin/env bash
# Command-line tests of dsz: round trips with the bound checked on every
# value, inspect/bench JSON, and every bad input failing with exactly one line
# "dsz: ..." on stderr, a nonzero exit code and no output file left behind.
#   test_dsz.sh PATH/TO/dsz PATH/TO/dsz_cli_helper
set -uo pipefail
DSZ="$1"
HELPER="$2"
PROG=dsz
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
enter_work_dir dsz-cli-test

"$HELPER" gen w.f32 200000 0.1 1 || exit 1
"$HELPER" gen special.f32 5000 0.5 2 special || exit 1
"$HELPER" gen small.f32 20000 0.1 3 || exit 1
printf 'abc' > bad.f32
: > empty.f32

# ---- round trips ----------------------------------------------------------
for eb in 1e-2 1e-3 1e-5; do
  run_ok "compress --abs $eb" "$DSZ" compress --abs "$eb" w.f32 w.dsz
  run_ok "decompress --abs $eb" "$DSZ" decompress w.dsz w.out.f32
  run_ok "bound $eb on every value" "$HELPER" check w.f32 w.out.f32 "$eb"
done
for pred in none lorenzo auto; do
  run_ok "compress --predictor $pred --threads 4" "$DSZ" compress --abs 1e-3 --predictor "$pred" --threads 4 w.f32 p.dsz
  run_ok "decompress $pred" "$DSZ" decompress --threads 3 p.dsz p.out.f32
  run_ok "bound with $pred" "$HELPER" check w.f32 p.out.f32 1e-3
done
run_ok "compress --sparse" "$DSZ" compress --abs 1e-3 --sparse w.f32 s.dsz
run_ok "decompress --sparse" "$DSZ" decompress s.dsz s.out.f32
run_ok "sparse bound" "$HELPER" check w.f32 s.out.f32 1e-3
run_ok "compress --sparse --index gap8" "$DSZ" compress --abs 1e-3 --sparse --index gap8 w.f32 g.dsz
run_ok "decompress gap8" "$DSZ" decompress g.dsz g.out.f32
run_ok "gap8 bound" "$HELPER" check w.f32 g.out.f32 1e-3
rel=$("$HELPER" relbound w.f32 1e-4)
run_ok "compress --rel" "$DSZ" compress --rel 1e-4 w.f32 r.dsz
run_ok "decompress --rel" "$DSZ" decompress r.dsz r.out.f32
run_ok "relative bound ($rel)" "$HELPER" check w.f32 r.out.f32 "$rel"
run_ok "compress --abs 0 with NaN/Inf" "$DSZ" compress --abs 0 special.f32 sp.dsz
run_ok "decompress lossless" "$DSZ" decompress sp.dsz sp.out.f32
run_ok "bit-exact at bound 0" cmp special.f32 sp.out.f32
run_ok "compress NaN/Inf at 1e-3" "$DSZ" compress --abs 1e-3 special.f32 sp3.dsz
run_ok "decompress NaN/Inf at 1e-3" "$DSZ" decompress sp3.dsz sp3.out.f32
run_ok "NaN/Inf exact, bound elsewhere" "$HELPER" check special.f32 sp3.out.f32 1e-3
run_ok "compress --codec zfp" "$DSZ" compress --abs 1e-3 --codec zfp w.f32 z.dsz
run_ok "decompress zfp" "$DSZ" decompress z.dsz z.out.f32
run_ok "zfp bound" "$HELPER" check w.f32 z.out.f32 1e-3
run_ok "compress --codec lossless" "$DSZ" compress --abs 1 --codec lossless special.f32 l.dsz
run_ok "decompress lossless codec" "$DSZ" decompress l.dsz l.out.f32
run_ok "lossless codec bit-exact" cmp special.f32 l.out.f32
run_ok "compress empty input" "$DSZ" compress --abs 1e-3 empty.f32 e.dsz
run_ok "decompress empty" "$DSZ" decompress e.dsz e.out.f32
run_ok "empty output" test ! -s e.out.f32

# ---- inspect ----------------------------------------------------------------
run_ok "inspect" "$DSZ" inspect s.dsz
grep -q "sparse" out.log || fail "inspect text lacks the sparse tensor"
run_ok "inspect --json" "$DSZ" inspect --json s.dsz
cp out.log inspect.json
run_ok "inspect json parses" "$HELPER" inspect-json inspect.json

# ---- several tensors --------------------------------------------------------
run_ok "multi-tensor container" "$HELPER" multi m.dsz
run_bad "several tensors, no --tensor" 2 m.out.f32 -- "$DSZ" decompress m.dsz m.out.f32
run_bad "unknown --tensor" 1 m.out.f32 -- "$DSZ" decompress m.dsz m.out.f32 --tensor nope
run_ok "--tensor fc1/bias" "$DSZ" decompress m.dsz bias.f32 --tensor fc1/bias
[[ $(stat -c %s bias.f32) -eq 24 ]] || fail "bias.f32 has the wrong size"
mkdir outdir
run_ok "decompress into a directory" "$DSZ" decompress m.dsz outdir
for f in fc1_weight.f32 fc1_bias.f32 _.._scale.f32; do
  [[ -f "outdir/$f" ]] || fail "outdir/$f missing ($(ls outdir | tr '\n' ' '))"
done
[[ $(ls outdir | wc -l) -eq 3 ]] || fail "outdir holds $(ls outdir | wc -l) files"
run_ok "inspect multi --json" "$DSZ" inspect --json m.dsz
cp out.log m.json
run_ok "multi json parses" "$HELPER" inspect-json m.json

# ---- bad inputs: one line, nonzero exit, nothing left -----------------------
cp w.dsz corrupt.dsz
printf '\xff' | dd of=corrupt.dsz bs=1 seek=100 conv=notrunc 2> /dev/null
head -c 1000 w.dsz > short.dsz
run_bad "--abs negative" 2 x.dsz -- "$DSZ" compress --abs -1 w.f32 x.dsz
run_bad "--abs NaN" 2 x.dsz -- "$DSZ" compress --abs nan w.f32 x.dsz
run_bad "--abs inf" 2 x.dsz -- "$DSZ" compress --abs inf w.f32 x.dsz
run_bad "--abs not a number" 2 x.dsz -- "$DSZ" compress --abs abc w.f32 x.dsz
run_bad "--rel negative" 2 x.dsz -- "$DSZ" compress --rel -0.1 w.f32 x.dsz
run_bad "--abs and --rel" 2 x.dsz -- "$DSZ" compress --abs 1 --rel 1 w.f32 x.dsz
run_bad "no bound" 2 x.dsz -- "$DSZ" compress w.f32 x.dsz
run_bad "--threads 0" 2 x.dsz -- "$DSZ" compress --abs 1e-3 --threads 0 w.f32 x.dsz
run_bad "--threads 1025" 2 x.dsz -- "$DSZ" compress --abs 1e-3 --threads 1025 w.f32 x.dsz
run_bad "--threads -1" 2 x.dsz -- "$DSZ" compress --abs 1e-3 --threads -1 w.f32 x.dsz
run_bad "--predictor bogus" 2 x.dsz -- "$DSZ" compress --abs 1e-3 --predictor bogus w.f32 x.dsz
run_bad "zfp with bound 0" 2 x.dsz -- "$DSZ" compress --abs 0 --codec zfp w.f32 x.dsz
run_bad "zfp with NaN input" 1 x.dsz -- "$DSZ" compress --abs 1e-3 --codec zfp special.f32 x.dsz
run_bad "input size not a multiple of 4" 1 x.dsz -- "$DSZ" compress --abs 1e-3 bad.f32 x.dsz
run_bad "missing input" 1 x.dsz -- "$DSZ" compress --abs 1e-3 nofile.f32 x.dsz
run_bad "OUT equal to IN" 2 "" -- "$DSZ" compress --abs 1e-3 w.f32 w.f32
run_bad "OUT equal to IN via ./" 2 "" -- "$DSZ" compress --abs 1e-3 w.f32 ./w.f32
run_bad "OUT is a directory" 2 "" -- "$DSZ" compress --abs 1e-3 w.f32 outdir
run_bad "OUT in a missing directory" 1 "" -- "$DSZ" compress --abs 1e-3 w.f32 no/such/x.dsz
run_bad "decompress OUT equal to IN" 2 "" -- "$DSZ" decompress w.dsz w.dsz
run_bad "decompress a raw file" 1 x.f32 -- "$DSZ" decompress w.f32 x.f32
run_bad "decompress corrupt file" 1 x.f32 -- "$DSZ" decompress corrupt.dsz x.f32
run_bad "decompress truncated file" 1 x.f32 -- "$DSZ" decompress short.dsz x.f32
run_bad "decompress missing file" 1 x.f32 -- "$DSZ" decompress nofile.dsz x.f32
run_bad "decompress --threads 0" 2 x.f32 -- "$DSZ" decompress --threads 0 w.dsz x.f32
run_bad "inspect a raw file" 1 "" -- "$DSZ" inspect w.f32
run_bad "inspect corrupt file" 1 "" -- "$DSZ" inspect corrupt.dsz
run_bad "inspect missing file" 1 "" -- "$DSZ" inspect nofile.dsz
run_bad "bench without --abs" 2 "" -- "$DSZ" bench small.f32
run_bad "bench --abs negative" 2 "" -- "$DSZ" bench small.f32 --abs 1e-3,-1
run_bad "bench bad input size" 1 "" -- "$DSZ" bench bad.f32 --abs 1e-3
run_bad "no command" 2 "" -- "$DSZ"
run_bad "unknown command" 2 "" -- "$DSZ" frobnicate
run_bad "unknown option" 2 x.dsz -- "$DSZ" compress --abs 1e-3 --fast w.f32 x.dsz
run_bad "extra argument" 2 x.dsz -- "$DSZ" compress --abs 1e-3 w.f32 x.dsz extra

run_bad "OUT is /dev/full" 1 "" -- "$DSZ" compress --abs 1e-3 w.f32 /dev/full
[[ -c /dev/full ]] || fail "/dev/full is no longer a device"
run_bad "decompress OUT is /dev/full" 1 "" -- "$DSZ" decompress w.dsz /dev/full
# A full disk: writes fail with EFBIG past 64 KiB (SIGXFSZ ignored).
run_bad "write fails midway (file size limit)" 1 big.dsz -- bash -c "ulimit -f 64; trap '' XFSZ; exec \"\$0\" \"\$@\"" \
  "$DSZ" compress --abs 0 --codec lossless w.f32 big.dsz
grep -q "too large" err.log || fail "the write failure is not reported: $(cat err.log)"
"$HELPER" bomb bomb.dsz 4194304 4194304 || exit 1  # 2^44 elements, one nonzero
[[ $(stat -c %s bomb.dsz) -lt 1024 ]] || fail "bomb.dsz is not tiny"
run_bad "decompress a 64 TiB sparse tensor" 1 x.f32 -- "$DSZ" decompress bomb.dsz x.f32
grep -q "memory limit" err.log || fail "no memory limit message: $(cat err.log)"
"$HELPER" bomb bomb2.dsz 1024 1024 || exit 1          # 4 MiB dense
run_bad "decompress above --max-memory 1M" 1 x.f32 -- "$DSZ" decompress --max-memory 1M bomb2.dsz x.f32
run_ok "decompress within --max-memory 4M" "$DSZ" decompress --max-memory 4M bomb2.dsz x.f32
rm -f x.f32
# The output is written as it decodes: a write failing part-way leaves
# neither the output nor the temporary, with one thread and with two.
for t in 1 2; do
  run_bad "decompress write fails midway (--threads $t)" 1 x.f32 -- bash -c "ulimit -f 64; trap '' XFSZ; exec \"\$0\" \"\$@\"" \
    "$DSZ" decompress --threads $t bomb2.dsz x.f32
done
run_bad "--max-memory bogus" 2 x.f32 -- "$DSZ" decompress --max-memory 12Q bomb2.dsz x.f32
run_bad "--max-memory -1" 2 x.f32 -- "$DSZ" decompress --max-memory -1 bomb2.dsz x.f32

# ---- interrupts ---------------------------------------------------------------
# The input is a FIFO that the test holds open: dsz is certainly in the middle
# of its work when the signal comes. It must exit 128 + signal with the one
# line "dsz: interrupted" and leave nothing behind. Job control on: a
# non-interactive shell starts background jobs with SIGINT ignored, and dsz
# (like most tools) keeps an ignored SIGINT ignored.
set -m
for sig in INT TERM; do
  mkfifo fifo.f32
  "$DSZ" compress --abs 1e-3 fifo.f32 int.dsz > out.log 2> err.log &
  pid=$!
  exec 3> fifo.f32
  head -c 1000000 w.f32 >&3
  sleep 0.3
  kill -s $sig $pid
  wait $pid
  rc=$?
  exec 3>&-
  rm -f fifo.f32
  want=$((128 + $(kill -l $sig)))
  if [[ $rc -ne $want ]]; then fail "SIG$sig: exit $rc, expected $want ($(cat err.log))"
  elif [[ "$(cat err.log)" != "dsz: interrupted" ]]; then fail "SIG$sig: stderr: $(cat err.log)"
  elif ls -A | grep -q '^int\.dsz'; then fail "SIG$sig: left $(ls -A | grep '^int\.dsz' | tr '\n' ' ')"
  else ok "SIG$sig while reading: exit $rc, nothing left"; fi
done
# A real input large enough to take about a second: interrupted while it
# computes or writes, or skipped if it was faster than the delay.
"$HELPER" gen long.f32 30000000 1 4 || exit 1
sum_before=$(cksum < long.f32)
"$DSZ" compress --abs 1e-4 --codec lossless long.f32 long.dsz > out.log 2> err.log &
pid=$!
sleep 0.4
if kill -INT $pid 2> /dev/null; then
  wait $pid
  rc=$?
  if [[ $rc -ne 130 ]]; then fail "SIGINT on a long compress: exit $rc ($(cat err.log))"
  elif ls -A | grep -q '^long\.dsz'; then fail "SIGINT on a long compress left $(ls -A | grep '^long\.dsz' | tr '\n' ' ')"
  else ok "SIGINT on a long compress: exit 130, nothing left"; fi
else
  wait $pid
  echo "skip: the long compress finished within 0.4 s"
fi
[[ "$(cksum < long.f32)" == "$sum_before" ]] || fail "the input changed"
rm -f long.f32 long.dsz

# ---- help -------------------------------------------------------------------
run_ok "--help" "$DSZ" --help
for c in compress decompress inspect bench; do
  run_ok "$c --help" "$DSZ" "$c" --help
  grep -qi "usage" out.log || fail "$c --help prints no usage"
done

# ---- bench (small input, both bounds in one run) ----------------------------
run_ok "bench --json" "$DSZ" bench small.f32 --abs 1e-3,1e-2 --repetitions 1 --json
cp out.log bench.json
run_ok "bench json parses, bounds held" "$HELPER" bench-json bench.json
run_ok "bench --abs repeated" "$DSZ" bench small.f32 --abs 1e-3 --abs 1e-2 --repetitions 1

finish
