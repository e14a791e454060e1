#!/usr/bin/env bash
# ONNX models through the model path of deepsz (docs/FORMATS.md, "ONNX
# models through the pipeline"): LeNet-300-100 and LeNet-5 trained here on a
# tiny data set, exported by make_models.py (python3-torch reads the .pt,
# python3-onnx writes the graph), must evaluate exactly as the .pt does,
# compress to the same tensors and decode to the same accuracy, go through
# prune and `deepsz run`, and write files onnx.checker accepts. An op outside
# the supported set is refused by name and the weights-only path still works.
#   test_onnx_model_cli.sh DEEPSZ DSZ MAKE_MODELS.py
set -uo pipefail
DEEPSZ="$(realpath "$1")"; DSZ="$(realpath "$2")"; MM="$(realpath "$3")"
PY=/usr/bin/python3
PROG=deepsz
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../cli" && pwd)/lib.sh"
enter_work_dir deepsz-onnx-test

mkdir data
write_idx data train 300 28
write_idx data t10k 100 28
D=(--data data --val 50 --cert 50 --threads 1)

# eval_line MODEL SPLIT: the accuracy line without the file name and the speed.
eval_line() {
  local line
  line=$("$DEEPSZ" eval "$1" "${D[@]}" --split "$2" 2>&1) || { echo "FAILED: $line"; return; }
  sed -e 's/^[^ ]* on //' -e 's/, [0-9.]* images\/s//' <<< "$line"
}
same() {  # WHAT A B: A and B equal, neither a failure
  if [[ -n "$2" && "$2" != FAILED* && "$2" == "$3" ]]; then ok "$1 ($3)"; else fail "$1: '$2' vs '$3'"; fi
}

for net in lenet300 lenet5; do
  run_ok "$net: train 1 epoch" "$DEEPSZ" train "${D[@]}" --model "$net" --epochs 1 -o "$net.pt"
  run_ok "$net: export to ONNX" "$PY" "$MM" export-onnx "$net.pt" "$net.onnx"
  for split in val test; do
    same "$net: ONNX evaluates as the .pt on $split" "$(eval_line "$net.pt" "$split")" "$(eval_line "$net.onnx" "$split")"
  done
  # The same pruned model both ways: the same tensors, the same decoded accuracy.
  run_ok "$net: prune the .pt" "$DEEPSZ" prune "$net.pt" "${D[@]}" --density 0.2 --step-epochs 0 --final-epochs 0 -q -o "$net-p.pt"
  run_ok "$net: export the pruned model" "$PY" "$MM" export-onnx "$net-p.pt" "$net-p.onnx"
  run_ok "$net: compress the .pt" "$DEEPSZ" compress "$net-p.pt" "${D[@]}" --max-loss 50 -q -o "$net-pt.dsz"
  run_ok "$net: compress the .onnx" "$DEEPSZ" compress "$net-p.onnx" "${D[@]}" --max-loss 50 -q -o "$net-onnx.dsz"
  run_ok "$net: decompress to .onnx" "$DEEPSZ" decompress "$net-onnx.dsz" -q -o "$net-back.onnx"
  run_ok "$net: decompress to .pt" "$DEEPSZ" decompress "$net-pt.dsz" -q -o "$net-back.pt"
  run_ok "$net: onnx.checker accepts the decoded model" "$PY" "$MM" check-onnx "$net-back.onnx"
  same "$net: decoded ONNX = decoded .pt" "$(eval_line "$net-back.pt" test)" "$(eval_line "$net-back.onnx" test)"
  # And as a scripted TorchScript module, the issue's reference.
  run_ok "$net: export to TorchScript" "$PY" "$MM" export-torchscript "$net-p.pt" "$net-ts.pt"
  run_ok "$net: compress the TorchScript" "$DEEPSZ" compress "$net-ts.pt" "${D[@]}" --max-loss 50 -q -o "$net-ts.dsz"
  run_ok "$net: decompress the TorchScript" "$DEEPSZ" decompress "$net-ts.dsz" -q -o "$net-ts-back.pt"
  same "$net: decoded ONNX = decoded TorchScript" "$(eval_line "$net-ts-back.pt" test)" "$(eval_line "$net-back.onnx" test)"
  tensor_bytes() { "$DSZ" inspect --json "$1" | jq '[.tensors[] | .index_bytes + .value_bytes] | add'; }
  tp=$(tensor_bytes "$net-pt.dsz"); to=$(tensor_bytes "$net-onnx.dsz"); ts=$(tensor_bytes "$net-ts.dsz")
  if [[ -n "$tp" && "$tp" == "$to" && "$tp" == "$ts" ]]; then ok "$net: the same tensor bytes three ways ($tp)"
  else fail "$net: tensor bytes .pt $tp, .onnx $to, TorchScript $ts"; fi
  # deepsz's metadata and masks survive in metadata_props.
  "$DEEPSZ" prune "$net.onnx" "${D[@]}" --density 0.3 --step-epochs 0 --final-epochs 1 -q -o "$net-p2.onnx" > out.log 2> err.log ||
    fail "$net: prune the .onnx: $(tail -2 err.log)"
  "$PY" - "$net-p2.onnx" <<'PY' || fail "$net: the pruned ONNX lacks its masks or metadata"
import json, sys, onnx
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m)
p = {e.key: e.value for e in m.metadata_props}
assert "fc1.weight" in p["deepsz:masks"].split(","), p
assert "data.split" in json.loads(p["deepsz:metadata"]), p
PY
done

# The whole pipeline on an ONNX model given as the dense model.
run_ok "run --model lenet300.onnx" "$DEEPSZ" run "${D[@]}" --model lenet300.onnx --max-loss 50 --cache rc -q
restored=$(ls rc/lenet300-*-restored.onnx 2> /dev/null | head -1)
[[ -n "$restored" ]] && "$PY" "$MM" check-onnx "$restored" && ok "run wrote $restored" || fail "run: no restored .onnx in rc/: $(ls rc)"

# A Softmax that makes the output: evaluated on its input (same arg-max).
run_ok "export with a Softmax" "$PY" "$MM" export-onnx lenet5.pt softmax.onnx --softmax 1
same "trailing Softmax" "$(eval_line lenet5.pt test)" "$(eval_line softmax.onnx test)"

# An op outside the set: named, and the weights-only path still works.
run_ok "export with Selu" "$PY" "$MM" export-onnx lenet300.pt selu.onnx --op Selu
run_bad "compress an unsupported op" 1 o.dsz "'Selu'" -- "$DEEPSZ" compress selu.onnx "${D[@]}" --max-loss 1 -o o.dsz
run_bad "eval an unsupported op" 1 "" "'Selu'" -- "$DEEPSZ" eval selu.onnx "${D[@]}"
run_ok "weights-only compress of the unsupported graph" "$DEEPSZ" compress selu.onnx --bound 1e-3 -q -o selu.dsz
run_ok "weights-only decompress" "$DEEPSZ" decompress selu.dsz -q -o selu.back.onnx
# FLOAT16 initializers: the model path runs FLOAT.
run_ok "a FLOAT16 ONNX" "$PY" "$MM" onnx f16.onnx --net lenet300 --dtype f16
run_bad "FLOAT16 on the model path" 1 "" "FLOAT16" -- "$DEEPSZ" eval f16.onnx "${D[@]}"
# The output's name must say the model's format.
run_bad "an ONNX model to .pt" 1 x.pt "give -o a .onnx" -- "$DEEPSZ" decompress lenet5-onnx.dsz -o x.pt
run_bad "a deepsz model to .onnx" 1 x.onnx "give -o a .pt" -- "$DEEPSZ" decompress lenet5-pt.dsz -o x.onnx
# Not ONNX at all.
head -c 3000 /dev/urandom > noise.onnx
run_bad "noise as ONNX" 1 "" "noise.onnx" -- "$DEEPSZ" eval noise.onnx "${D[@]}"
finish
