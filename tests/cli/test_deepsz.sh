#!/usr/bin/env bash
# Command-line tests of deepsz on bad input, as a new user would give it:
# every case must exit nonzero with exactly one line "deepsz: ..." on stderr
# and leave no output (nor a temporary file) behind. Inputs are made here: a
# tiny MNIST-layout IDX directory (300 + 100 random 28x28 images) and a
# LeNet-300-100 trained on it for one epoch.
# Each start of deepsz loads libtorch (about 1.4 s), so the cases come in two
# groups that CTest runs as two tests, in parallel under ctest -j.
#   test_deepsz.sh PATH/TO/deepsz PATH/TO/dsz [inputs|flags|all]
set -uo pipefail
DEEPSZ="$1"
DSZ="$2"
GROUP="${3:-all}"
PROG=deepsz
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
enter_work_dir deepsz-cli-test

# variant NAME: a copy of the good data directory to damage.
variant() { rm -rf "$1"; cp -r data "$1"; }

mkdir data
write_idx data train 300 28
write_idx data t10k 100 28
D=(--data data --val 50 --threads 1)

# ---- the good path (inputs of the cases below) -----------------------------
run_ok "train 1 epoch on the tiny set" "$DEEPSZ" train "${D[@]}" --epochs 1 -o m.pt
[[ $GROUP == flags ]] || run_ok "eval" "$DEEPSZ" eval m.pt "${D[@]}"
[[ $GROUP == inputs ]] || run_ok "info" "$DEEPSZ" info m.pt
head -c 4000 /dev/urandom > noise.f32
run_ok "dsz compress (a .dsz to misuse)" "$DSZ" compress --abs 1e-3 noise.f32 x.dsz
: > empty.pt
head -c 2000 m.pt > trunc.pt
cp m.pt corrupt.pt
printf 'XXXXXXXXXXXXXXXX' | dd of=corrupt.pt bs=1 seek=0 conv=notrunc 2> /dev/null
head -c 5000 /dev/urandom > noise.pt
mkdir adir
cksum m.pt > m.sum

# ---- model files -----------------------------------------------------------
if [[ $GROUP == all || $GROUP == inputs ]]; then
run_bad "eval: missing model" 1 "" "no such file" -- "$DEEPSZ" eval nofile.pt "${D[@]}"
run_bad "eval: empty model" 1 "" "empty" -- "$DEEPSZ" eval empty.pt "${D[@]}"
run_bad "eval: truncated model" 1 "" -- "$DEEPSZ" eval trunc.pt "${D[@]}"
run_bad "eval: random bytes as model" 1 "" -- "$DEEPSZ" eval noise.pt "${D[@]}"
run_bad "eval: a .dsz as model" 1 "" "dsz" -- "$DEEPSZ" eval x.dsz "${D[@]}"
run_bad "eval: a directory as model" 1 "" "directory" -- "$DEEPSZ" eval adir "${D[@]}"
run_bad "info: empty model" 1 "" "empty" -- "$DEEPSZ" info empty.pt
run_bad "info: truncated model" 1 "" -- "$DEEPSZ" info trunc.pt
run_bad "info: a .dsz as model" 1 "" "dsz" -- "$DEEPSZ" info x.dsz
run_bad "eval: corrupt model (zip header)" 1 "" -- "$DEEPSZ" eval corrupt.pt "${D[@]}"
run_bad "eval: an IDX file as model" 1 "" -- "$DEEPSZ" eval data/t10k-images-idx3-ubyte "${D[@]}"
# 16 bytes overwritten inside a tensor's data (libtorch's zip reader checks no
# CRC; the model file's own XXH64s catch it, docs/MODEL.md). The data is found
# by content, not by offset: two models created with different seeds differ
# in their tensors' bytes (and checksums) only, and the middle one of the
# differing bytes lies inside fc1.weight (88% of them).
run_ok "create (seed 1)" "$DEEPSZ" create --model lenet300 --seed 1 -o c1.pt
run_ok "create (seed 2)" "$DEEPSZ" create --model lenet300 --seed 2 -o c2.pt
cmp -l c1.pt c2.pt > differ.txt
off=$(sed -n "$(( $(wc -l < differ.txt) / 2 ))p" differ.txt | awk '{print $1 - 1}')
cp c1.pt damaged.pt
printf 'XXXXXXXXXXXXXXXX' | dd of=damaged.pt bs=1 seek="$off" conv=notrunc 2> /dev/null
rm -f c2.pt differ.txt
run_bad "info: 16 bytes overwritten inside a tensor" 1 "" "damaged.pt is corrupt: checksum mismatch in tensor 'fc1.weight'" -- "$DEEPSZ" info damaged.pt
run_bad "eval: 16 bytes overwritten inside a tensor" 1 "" "checksum mismatch in tensor 'fc1.weight'" -- "$DEEPSZ" eval damaged.pt "${D[@]}"
run_ok "info: the undamaged model" "$DEEPSZ" info c1.pt
"$DSZ" inspect m.pt > out.log 2> err.log && fail "dsz inspect accepted a model file" || ok "dsz inspect: a model file -> $(cat err.log)"

# ---- data directories ------------------------------------------------------
run_bad "eval: missing data dir" 1 "" "does not exist" -- "$DEEPSZ" eval m.pt --data nodir
run_bad "eval: data dir without IDX files" 1 "" "missing data file" -- "$DEEPSZ" eval m.pt --data adir
variant foreign; cp m.pt foreign/t10k-images-idx3-ubyte
run_bad "eval: a model in place of an IDX file" 1 "" "not an IDX file" -- "$DEEPSZ" eval m.pt --data foreign --val 50
variant short; head -c 50000 data/t10k-images-idx3-ubyte > short/t10k-images-idx3-ubyte
run_bad "eval: truncated IDX images" 1 "" "truncated" -- "$DEEPSZ" eval m.pt --data short --val 50
variant nolabels; : > nolabels/t10k-labels-idx1-ubyte
run_bad "eval: empty IDX labels" 1 "" "truncated" -- "$DEEPSZ" eval m.pt --data nolabels --val 50
variant trailing; printf 'extra' >> trailing/t10k-images-idx3-ubyte
run_bad "eval: bytes after the IDX images" 1 "" "after the declared" -- "$DEEPSZ" eval m.pt --data trailing --val 50
variant mismatch; write_idx mismatch t10k 100 28; head -c 58 mismatch/t10k-labels-idx1-ubyte > m.tmp
{ printf '\x00\x00\x08\x01'; be32 50; tail -c +9 m.tmp; } > mismatch/t10k-labels-idx1-ubyte; rm m.tmp
run_bad "eval: image and label counts differ" 1 "" "labels" -- "$DEEPSZ" eval m.pt --data mismatch --val 50
# A header declaring 2^26 images of 28x28 (52 GB) in a 1 KB file: must fail as
# truncated after reading what is there, not allocate 52 GB first.
variant bomb
{ printf '\x00\x00\x08\x03'; be32 67108864; be32 28; be32 28; head -c 1000 /dev/urandom; } > bomb/t10k-images-idx3-ubyte
{ printf '\x00\x00\x08\x01'; be32 67108864; head -c 1000 /dev/zero; } > bomb/t10k-labels-idx1-ubyte
run_bad "eval: IDX header declaring 52 GB" 1 "" "truncated" -- "$DEEPSZ" eval m.pt --data bomb --val 50
variant bigimg; write_idx bigimg train 300 32; write_idx bigimg t10k 100 32
run_bad "eval: 32x32 images for a 28x28 model" 1 "" "expects" -- "$DEEPSZ" eval m.pt --data bigimg --val 50
variant labels; write_idx labels t10k 100 28 200
run_bad "eval: labels beyond the model's classes" 1 "" "classes" -- "$DEEPSZ" eval m.pt --data labels --val 50
# The same images as NumPy arrays (docs/MODEL.md, "Data"): the IDX payload
# after its header, under a .npy header; eval must read the same top-1.
# npy DESCR SHAPE: the header numpy.save writes (version 1.0, padded to 64).
npy() {
  local dict="{'descr': '$1', 'fortran_order': False, 'shape': $2, }"
  while (( (10 + ${#dict} + 1) % 64 )); do dict+=" "; done
  printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $(( (${#dict} + 1) & 255 )))\\x$(printf %02x $(( (${#dict} + 1) >> 8 )))"
  printf '%s\n' "$dict"
}
mkdir npydata
for split in train:train:300 t10k:test:100; do
  IFS=: read -r from to n <<< "$split"
  { npy '|u1' "($n, 28, 28)"; tail -c +17 "data/$from-images-idx3-ubyte"; } > "npydata/$to-images.npy"
  { npy '|u1' "($n,)"; tail -c +9 "data/$from-labels-idx1-ubyte"; } > "npydata/$to-labels.npy"
done
"$DEEPSZ" eval m.pt "${D[@]}" --split test > idx.out 2>/dev/null
run_ok "eval on .npy data" "$DEEPSZ" eval m.pt --data npydata --val 50 --threads 1 --split test
if grep -q "top-1" out.log && diff <(sed 's/, [0-9]* images\/s//' idx.out) <(sed 's/, [0-9]* images\/s//' out.log) > /dev/null; then
  ok "eval on .npy data reads what eval on the same IDX data reads"
else
  fail "eval on .npy data differs from IDX: $(diff idx.out out.log | head -4 | tr '\n' ' ')"
fi
rm -rf npyfloat; cp -r npydata npyfloat
{ npy '<f4' "(100, 28, 28)"; head -c $((100 * 784 * 4)) /dev/urandom; } > npyfloat/test-images.npy
run_bad "eval: .npy float images that are not k/255" 1 "" "k/255" -- "$DEEPSZ" eval m.pt --data npyfloat --val 50
rm -rf npyshort; cp -r npydata npyshort; head -c 5000 npydata/train-images.npy > npyshort/train-images.npy
run_bad "eval: truncated .npy images" 1 "" "truncated" -- "$DEEPSZ" eval m.pt --data npyshort --val 50

fi

if [[ $GROUP == all || $GROUP == flags ]]; then
# ---- flags out of range -----------------------------------------------------
run_bad "eval --threads 0" 2 "" -- "$DEEPSZ" eval m.pt --data data --threads 0
run_bad "eval --threads 5000" 2 "" -- "$DEEPSZ" eval m.pt --data data --threads 5000
run_bad "eval --val -5" 2 "" -- "$DEEPSZ" eval m.pt --data data --val -5
run_bad "eval --val larger than the training set" 1 "" "validation" -- "$DEEPSZ" eval m.pt --data data --val 1000000
run_bad "eval --std 0" 2 "" -- "$DEEPSZ" eval m.pt "${D[@]}" --std 0
run_bad "eval --mean nan" 2 "" -- "$DEEPSZ" eval m.pt "${D[@]}" --mean nan
run_bad "eval --split bogus" 2 "" -- "$DEEPSZ" eval m.pt "${D[@]}" --split bogus
run_bad "create --input 3x224" 1 y.pt -- "$DEEPSZ" create --input 3x224 -o y.pt
run_bad "create --input 0x28x28" 1 y.pt -- "$DEEPSZ" create --model lenet300 --input 0x28x28 -o y.pt
run_bad "create --input 1x28x28junk" 1 y.pt -- "$DEEPSZ" create --model lenet300 --input 1x28x28junk -o y.pt
run_bad "create --input huge" 1 y.pt -- "$DEEPSZ" create --input 3x100000x100000 -o y.pt
run_bad "create --classes -1" 1 y.pt -- "$DEEPSZ" create --model lenet300 --classes -1 -o y.pt
run_bad "create --classes 10^7" 1 y.pt -- "$DEEPSZ" create --model lenet300 --classes 10000000 -o y.pt
run_bad "create --model bogus" 2 y.pt -- "$DEEPSZ" create --model bogus -o y.pt
run_bad "train --batch 0" 2 y.pt -- "$DEEPSZ" train "${D[@]}" --batch 0 -o y.pt
run_bad "train --lr -1" 2 y.pt -- "$DEEPSZ" train "${D[@]}" --lr -1 -o y.pt
run_bad "prune --density 0" 2 y.pt -- "$DEEPSZ" prune m.pt "${D[@]}" --density 0 -o y.pt
run_bad "prune --density 1.5" 2 y.pt -- "$DEEPSZ" prune m.pt "${D[@]}" --density 1.5 -o y.pt
run_bad "compress --max-loss -1" 1 y.dsz -- "$DEEPSZ" compress m.pt "${D[@]}" --max-loss -1 -o y.dsz
run_bad "compress --max-loss 101" 1 y.dsz -- "$DEEPSZ" compress m.pt "${D[@]}" --max-loss 101 -o y.dsz
run_bad "prune --max-loss 200" 2 y.pt -- "$DEEPSZ" prune m.pt "${D[@]}" --max-loss 200 -o y.pt
run_bad "prune --lr -1" 2 y.pt -- "$DEEPSZ" prune m.pt "${D[@]}" --density 0.5 --lr -1 -o y.pt
run_bad "prune --step-epochs -2" 2 y.pt -- "$DEEPSZ" prune m.pt "${D[@]}" --density 0.5 --step-epochs -2 -o y.pt
run_bad "prune --units 0" 2 y.pt -- "$DEEPSZ" prune m.pt "${D[@]}" --density 0.5 --units 0 -o y.pt
run_bad "prune --units 1.5" 2 y.pt -- "$DEEPSZ" prune m.pt "${D[@]}" --density 0.5 --units 1.5 -o y.pt
run_bad "prune --units, one pruned fc layer" 1 y.pt "successive" -- "$DEEPSZ" prune m.pt "${D[@]}" --density 0.5 --units 0.5 --layers fc1 -o y.pt
run_bad "quantize --max-loss 200" 2 y.pt -- "$DEEPSZ" quantize m.pt "${D[@]}" --max-loss 200 -o y.pt
run_bad "prune --augment 9" 2 y.pt -- "$DEEPSZ" prune m.pt "${D[@]}" --density 0.5 --augment 9 -o y.pt
run_bad "quantize --growth 1" 2 y.pt -- "$DEEPSZ" quantize m.pt "${D[@]}" --growth 1 -o y.pt
run_bad "quantize --start 0" 2 y.pt -- "$DEEPSZ" quantize m.pt "${D[@]}" --start 0 -o y.pt
run_bad "quantize --epochs 0" 2 y.pt -- "$DEEPSZ" quantize m.pt "${D[@]}" --epochs 0 -o y.pt
run_bad "quantize --layers nosuch" 1 y.pt "nosuch" -- "$DEEPSZ" quantize m.pt "${D[@]}" --layers nosuch -o y.pt
run_bad "quantize: missing model" 1 y.pt "nofile.pt" -- "$DEEPSZ" quantize nofile.pt "${D[@]}" -o y.pt
run_bad "train --epochs -1" 2 y.pt -- "$DEEPSZ" train "${D[@]}" --epochs -1 -o y.pt
run_bad "decompress --threads 0" 2 y.pt -- "$DEEPSZ" decompress m.pt --threads 0 -o y.pt
run_bad "compress --confidence 1.5" 2 y.dsz -- "$DEEPSZ" compress m.pt "${D[@]}" --max-loss 1 --confidence 1.5 -o y.dsz
run_bad "compress --looks 0" 2 y.dsz -- "$DEEPSZ" compress m.pt "${D[@]}" --max-loss 1 --looks 0 -o y.dsz
run_bad "compress on another certification split" 1 y.dsz "--cert 50" -- "$DEEPSZ" compress m.pt "${D[@]}" --cert 60 --max-loss 1 -o y.dsz
run_bad "compress on another split seed" 1 y.dsz "--split-seed 1" -- "$DEEPSZ" compress m.pt "${D[@]}" --split-seed 2 --max-loss 1 -o y.dsz
run_bad "eval --cert larger than the training set" 1 "" "certification split" -- "$DEEPSZ" eval m.pt --data data --cert 1000000
run_bad "run --seed 0" 2 "" -- "$DEEPSZ" run "${D[@]}" --seed 0 --cache rc0
run_bad "compress --workers 0" 2 y.dsz -- "$DEEPSZ" compress m.pt "${D[@]}" --max-loss 1 --workers 0 -o y.dsz

# ---- output paths -----------------------------------------------------------
run_bad "create -o in a missing directory" 1 "" "does not exist" -- "$DEEPSZ" create --model lenet300 -o no/such/y.pt
run_bad "create -o /dev/full" 1 "" "regular file" -- "$DEEPSZ" create --model lenet300 -o /dev/full
run_bad "create -o a directory" 1 "" "directory" -- "$DEEPSZ" create --model lenet300 -o adir
run_bad "train -o in a missing directory" 1 "" -- "$DEEPSZ" train "${D[@]}" --epochs 1 -o no/such/y.pt
run_bad "prune -o equal to the input" 1 "" "input" -- "$DEEPSZ" prune m.pt "${D[@]}" --density 0.5 -o m.pt
run_bad "prune -o equal to the input via ./" 1 "" "input" -- "$DEEPSZ" prune m.pt "${D[@]}" --density 0.5 -o ./m.pt
run_bad "quantize -o equal to the input" 1 "" "input" -- "$DEEPSZ" quantize m.pt "${D[@]}" -o m.pt
run_bad "compress -o equal to the input" 1 "" "input" -- "$DEEPSZ" compress m.pt "${D[@]}" --max-loss 1 -o m.pt
run_bad "decompress a model file" 1 y.pt -- "$DEEPSZ" decompress m.pt -o y.pt
run_bad "decompress a missing file" 1 y.pt -- "$DEEPSZ" decompress nofile.dsz -o y.pt
run_bad "unknown command" 2 "" -- "$DEEPSZ" frobnicate
# deepsz run end to end on the tiny set: it names the pruned model it chose
# (scripts/results.sh reads that line).
# (Random images: the budget is wide enough for 50 certification images.)
run_ok "run on the tiny set" "$DEEPSZ" run "${D[@]}" --max-loss 50 --cache runcache -q
chosen=$(sed -n 's/^pruned model: //p' out.log)
[[ -n "$chosen" && -f "$chosen" && "$chosen" == runcache/* ]] || fail "run: no pruned model in the cache named: $(tail -3 out.log)"
# The report page, by default next to the .dsz: self-contained, one plot a layer.
page=$(sed -n 's/^report: //p' out.log)
if [[ -n "$page" && -s "$page" ]] && grep -q "<svg" "$page" && ! grep -qi -e "<script" -e 'src="http' -e "<link" "$page"; then
  echo "ok: run wrote its report page $page"
else fail "run: no self-contained report page (named: '$page')"; fi
run_ok "compress --report-html --plots" "$DEEPSZ" compress "$chosen" "${D[@]}" --max-loss 50 -o rc.dsz \
  --report-html rc.html --plots rcplots -q
[[ -s rc.html ]] && grep -q "<svg" rc.html || fail "compress --report-html: no page"
nsvg=$(ls rcplots/*.svg 2>/dev/null | wc -l)
(( nsvg >= 3 )) || fail "compress --plots: $nsvg SVG files in rcplots"
head -c 200 "$(ls rcplots/*.svg | head -1)" | grep -q "<svg" || fail "compress --plots: not SVG"
run_bad "compress --report-html into a missing directory" 1 rc2.dsz "no/such" -- "$DEEPSZ" compress "$chosen" "${D[@]}" \
  --max-loss 50 -o rc2.dsz --report-html no/such/r.html
rm -rf runcache rc.dsz rc.html rcplots
# --json --seed: two fresh runs give the same object but for their timings.
run_ok "run --json --seed 1" "$DEEPSZ" run "${D[@]}" --max-loss 50 --cache runa --json --seed 1 -q
sed 's/"seconds":{[^}]*}//' out.log > run1.json
run_ok "run --json --seed 1 again" "$DEEPSZ" run "${D[@]}" --max-loss 50 --cache runb --json --seed 1 -q
sed 's/"seconds":{[^}]*}//; s/runb/runa/g' out.log > run2.json
cmp -s run1.json run2.json || fail "run --json --seed 1 differs between two runs: $(diff run1.json run2.json | head -c 600)"
grep -q '"format":"deepsz-run"' run1.json && grep -q '"certified":true' run1.json && grep -q '"prune_decision":"training"' run1.json || fail "run --json: $(head -c 400 run1.json)"
[[ $(wc -l < run1.json) -eq 1 ]] || fail "run --json printed more than one line on stdout"
rm -rf runa runb
cksum m.pt | cmp -s - m.sum || fail "the input model changed"

# ---- interrupts --------------------------------------------------------------
# Job control on: a non-interactive shell starts background jobs with SIGINT
# ignored, and deepsz (like most tools) keeps an ignored SIGINT ignored.
set -m
# interrupt SIGNAL DELAY OUT CMD...: the command is still running DELAY
# seconds after its first progress line (else the case is skipped); it must exit 128 + signal with the one
# line "deepsz: interrupted" and leave neither OUT nor a temporary file.
interrupt() {
  local sig="$1" delay="$2" out="$3"; shift 3
  local before after rc want
  before=$(ls -A | grep -v -e '^err.log$' -e '^out.log$' | sort)
  : > err.log  # empty before the child starts: the wait below reads it
  "$@" > out.log 2> err.log &
  local pid=$!
  # Started (handlers installed, libtorch loaded) once it logs progress; a
  # loaded machine can take seconds for that.
  local waited=0
  while [[ ! -s err.log && $waited -lt 300 ]] && kill -0 "$pid" 2> /dev/null; do sleep 0.1; waited=$((waited + 1)); done
  sleep "$delay"
  if ! kill -s "$sig" "$pid" 2> /dev/null; then wait "$pid"; echo "skip: $* finished within ${delay}s"; return; fi
  wait "$pid"
  rc=$?
  want=$((128 + $(kill -l "$sig")))
  after=$(ls -A | grep -v -e '^err.log$' -e '^out.log$' | sort)
  if [[ $rc -ne $want ]]; then fail "SIG$sig: exit $rc, expected $want ($(tail -2 err.log))"; return; fi
  if [[ "$(tail -1 err.log)" != "deepsz: interrupted" ]]; then fail "SIG$sig: last stderr line: $(tail -1 err.log)"; return; fi
  if [[ -e "$out" || "$before" != "$after" ]]; then fail "SIG$sig: files changed: $(diff <(echo "$before") <(echo "$after") | tr '\n' ' ')"; return; fi
  ok "SIG$sig during $2: exit $rc, nothing left behind"
}
interrupt INT 0.5 long.pt "$DEEPSZ" train "${D[@]}" --epochs 1000 -o long.pt
interrupt TERM 0.5 pruned.pt "$DEEPSZ" prune m.pt "${D[@]}" --density 0.1 --step-epochs 200 -o pruned.pt
cksum m.pt | cmp -s - m.sum || fail "the input model changed by the interrupted prune"
fi

finish
