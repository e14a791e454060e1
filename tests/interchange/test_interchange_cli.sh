#!/usr/bin/env bash
# dsz (and deepsz when built) on safetensors and ONNX models that
# make_models.py generates: round trips at a bound, every value checked,
# non-float tensors bit-exact, onnx.checker on the output, refusals with one
# line and no output file.
# Usage: test_interchange_cli.sh DSZ MAKE_MODELS.py [DEEPSZ] [onnx]
set -uo pipefail
DSZ="$1"; MM="$2"; DEEPSZ="${3:-}"; ONNX="${4:-}"
PY=/usr/bin/python3
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { "$@" >"$T/out" 2>"$T/err" || { fail "$* (exit $?): $(cat "$T/err")"; return 1; }; }
refuse() {  # EXPECTED_TEXT OUTPUT_FILE cmd...: nonzero, one line naming it, no output
  local want="$1" out="$2"; shift 2
  if "$@" >"$T/out" 2>"$T/err"; then fail "accepted: $*"; return; fi
  [[ $(wc -l <"$T/err") == 1 ]] || fail "not one line: $* -> $(cat "$T/err")"
  grep -q -- "$want" "$T/err" || fail "$* -> '$(cat "$T/err")' lacks '$want'"
  [[ ! -e "$out" ]] || fail "$*: left $out behind"
}
roundtrip() {  # KIND MODEL BOUND_OPTION BOUND CHECK_BOUND
  local kind="$1" m="$2" opt="$3" b="$4" cb="$5" base="$T/$(basename "$2")"
  ok "$DSZ" compress "$m" "$base.dsz" "$opt" "$b" || return
  ok "$DSZ" decompress "$base.dsz" "$base.back.$kind" || return
  rm -rf "$base.dir"; mkdir "$base.dir"; ok "$DSZ" decompress "$base.dsz" "$base.dir" || return
  "$PY" "$MM" "compare-$kind" "$m" "$base.back.$kind" "$base.dir" "$cb" || fail "compare $m at $opt $b"
  ok "$DSZ" inspect "$base.dsz" && grep -q "weights, bound" "$T/out" || fail "inspect $base.dsz"
}

for d in f32 f16 bf16 mixed; do
  "$PY" "$MM" safetensors "$T/st_$d.safetensors" --dtype "$d" --seed 3
  for b in 0 1e-4 1e-3 0.02; do roundtrip safetensors "$T/st_$d.safetensors" --abs "$b" "$b"; done
done
# Bound 0: the very same file back.
ok "$DSZ" compress "$T/st_mixed.safetensors" "$T/z.dsz" --abs 0 && ok "$DSZ" decompress "$T/z.dsz" "$T/z.safetensors" &&
  cmp -s "$T/st_mixed.safetensors" "$T/z.safetensors" || fail "lossless round trip is not the same file"
ok "$DSZ" inspect --json "$T/st_mixed.safetensors" && grep -q '"tensor_bytes"' "$T/out" || fail "inspect of a model file"

# Refusals: each damaged file, nothing written.
S="$T/st_f32.safetensors"
head -c 5 "$S" >"$T/short.safetensors"
refuse "no 8-byte header length" "$T/o.dsz" "$DSZ" compress "$T/short.safetensors" "$T/o.dsz" --abs 1e-3
head -c 2000 "$S" >"$T/cut.safetensors"
refuse "past the end of the data" "$T/o.dsz" "$DSZ" compress "$T/cut.safetensors" "$T/o.dsz" --abs 1e-3
{ printf '\xff\xff\xff\x00\x00\x00\x00\x00'; tail -c +9 "$S"; } >"$T/len.safetensors"
refuse "header length" "$T/o.dsz" "$DSZ" compress "$T/len.safetensors" "$T/o.dsz" --abs 1e-3
"$PY" - "$S" "$T/bad.safetensors" <<'PY'
import sys; d = bytearray(open(sys.argv[1], "rb").read()); d[9:11] = b"!!"; open(sys.argv[2], "wb").write(d)
PY
refuse "malformed header" "$T/o.dsz" "$DSZ" compress "$T/bad.safetensors" "$T/o.dsz" --abs 1e-3
refuse "exactly one of" "$T/o.dsz" "$DSZ" compress "$S" "$T/o.dsz"
refuse "apply to raw float32" "$T/o.dsz" "$DSZ" compress "$S" "$T/o.dsz" --abs 1e-3 --sparse
ok "$DSZ" compress "$S" "$T/s.dsz" --rel-rms 0.01
refuse "write them to a .safetensors" "$T/o.onnx" "$DSZ" decompress "$T/s.dsz" "$T/o.onnx"
# A .dsz whose bytes are damaged: the container's checksums refuse it.
cp "$T/s.dsz" "$T/d.dsz"; printf '\x00' | dd of="$T/d.dsz" bs=1 seek=100 conv=notrunc 2>/dev/null
refuse "checksum" "$T/d.safetensors" "$DSZ" decompress "$T/d.dsz" "$T/d.safetensors"

if [[ "$ONNX" == onnx ]]; then
  for net in lenet300 lenet5; do
    for d in f32 f16; do
      m="$T/${net}_$d.onnx"; "$PY" "$MM" onnx "$m" --net "$net" --dtype "$d" || fail "generate $m"
      for b in 1e-3 0.01; do
        roundtrip onnx "$m" --abs "$b" "$b"
        "$PY" "$MM" check-onnx "$T/$(basename "$m").back.onnx" || fail "onnx.checker refuses the output of $m"
      done
    done
  done
  "$PY" "$MM" onnx "$T/fd.onnx" --net lenet300 --float-data 1 && roundtrip onnx "$T/fd.onnx" --abs 1e-3 1e-3
  head -c 3000 "$T/lenet5_f32.onnx" >"$T/cut.onnx"
  refuse "onnx:" "$T/o.dsz" "$DSZ" compress "$T/cut.onnx" "$T/o.dsz" --abs 1e-3
  printf 'not a model at all, just some text' >"$T/text.onnx"
  refuse "not an ONNX model" "$T/o.dsz" "$DSZ" compress "$T/text.onnx" "$T/o.dsz" --abs 1e-3
  ok "$DSZ" inspect "$T/lenet5_f32.onnx" && grep -q "conv1.weight" "$T/out" || fail "inspect of an ONNX file"
fi

if [[ -n "$DEEPSZ" ]]; then
  m="$T/st_mixed.safetensors"
  ok "$DEEPSZ" compress "$m" --bound 1e-3 -o "$T/dz.dsz" -q
  ok "$DEEPSZ" decompress "$T/dz.dsz" -o "$T/dz.safetensors" -q
  rm -rf "$T/dz.dir"; mkdir "$T/dz.dir"; ok "$DSZ" decompress "$T/dz.dsz" "$T/dz.dir"
  "$PY" "$MM" compare-safetensors "$m" "$T/dz.safetensors" "$T/dz.dir" 1e-3 || fail "deepsz round trip"
  ok "$DEEPSZ" info "$T/dz.dsz" && grep -q "fc1.weight" "$T/out" || fail "deepsz info on a .dsz of weights"
  ok "$DEEPSZ" info "$m" && grep -q "fc1.weight" "$T/out" || fail "deepsz info on a .safetensors"
  refuse "needs a network" "$T/o.dsz" "$DEEPSZ" compress "$m" --max-loss 1 -o "$T/o.dsz"
  refuse "exactly one of --bound" "$T/o.dsz" "$DEEPSZ" compress "$m" -o "$T/o.dsz"
  refuse "malformed header" "$T/o.dsz" "$DEEPSZ" compress "$T/bad.safetensors" --bound 1e-3 -o "$T/o.dsz"
  if [[ "$ONNX" == onnx ]]; then
    ok "$DEEPSZ" compress "$T/lenet5_f32.onnx" --bound-rms 0.05 -o "$T/l5.dsz" -q &&
      ok "$DEEPSZ" decompress "$T/l5.dsz" -o "$T/l5.onnx" -q &&
      "$PY" "$MM" check-onnx "$T/l5.onnx" || fail "deepsz on ONNX"
  fi
fi
[[ $fails == 0 ]] && echo "interchange CLI: all passed"
exit $((fails > 0))
