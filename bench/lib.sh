# Shared by the benchmarks on the paper's large networks (sourced).

# bench_setup NAME [BUILD_DIR] [WORK_DIR]: BUILD (default build/), DEEPSZ and
# DSZ (refused unless deepsz is built), WORK (default a temp dir removed on
# exit), and deepsz's environment (no OpenMP re-exec, one OpenBLAS thread).
bench_setup() {
  local name="$1"
  BUILD="${2:-$ROOT/build}"
  DEEPSZ="$BUILD/src/cli/deepsz"
  DSZ="$BUILD/src/cli/dsz"
  [[ -x "$DEEPSZ" ]] || { echo "$name: no $DEEPSZ (build first: scripts/setup.sh)" >&2; exit 1; }
  WORK="${3:-}"
  if [[ -z "$WORK" ]]; then WORK="$(mktemp -d "${TMPDIR:-/tmp}/deepsz-${name%.sh}.XXXXXX")"; trap 'rm -rf "$WORK"' EXIT; fi
  mkdir -p "$WORK"
  export OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1
}

# random_224_data DIR N: N + 2 training and N test random 224x224 RGB images
# as .npy (the selection split is carved from the training file; nothing is
# trained on them).
random_224_data() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import os, sys
import numpy as np
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d, exist_ok=True)
rng = np.random.default_rng(1)
for split, count in (("train", n + 2), ("test", n)):
    np.save(f"{d}/{split}-images.npy", rng.integers(0, 256, (count, 224, 224, 3), dtype=np.uint8))
    np.save(f"{d}/{split}-labels.npy", (np.arange(count) % 10).astype(np.uint8))
PY
}

# paper_densities MODEL: "tensor=density ..." of the paper's pruned fc layers
# (docs/PRUNING.md, shared/DEEPSZ.md).
paper_densities() {
  case "$1" in
    alexnet) echo "fc6.weight=0.09 fc7.weight=0.09 fc8.weight=0.25" ;;
    vgg16) echo "fc6.weight=0.04 fc7.weight=0.04 fc8.weight=0.23" ;;
    *) echo "unknown model $1 (alexnet, vgg16)" >&2; return 1 ;;
  esac
}

# mask_to_paper_python MODEL FILE: the same magnitude masks, set by NumPy on
# the file's tensors (torch.load, torch.save: the same dictionary, without
# the per-tensor checksums, which the loader then does not check) and with
# no retraining epoch. Seconds where prune_to_paper takes 5 (AlexNet) to over
# 15 (VGG-16) minutes; for the memory benchmark, which needs the densities,
# not the training.
mask_to_paper_python() {
  local densities
  densities=$(paper_densities "$1") || return 1
  /usr/bin/python3 - "$2" $densities <<'PY'
import sys
import numpy as np
import torch
path, spec = sys.argv[1], sys.argv[2:]
d = torch.load(path)
params, masks = dict(d["parameters"]), dict(d.get("masks", {}))
for s in spec:
    name, density = s.split("=")
    w = params[name].numpy().ravel()
    k = int(round(float(density) * w.size))
    m = np.zeros(w.size, dtype=bool)
    m[np.argpartition(np.abs(w), w.size - k)[w.size - k:]] = True
    params[name] = torch.from_numpy(np.where(m, w, 0).astype(np.float32).reshape(params[name].shape))
    masks[name] = torch.from_numpy(m.reshape(params[name].shape))
metadata = {k: v for k, v in d["metadata"].items() if not k.startswith("xxh64:")}
torch.save({"format": d["format"], "version": d["version"], "metadata": metadata,
            "parameters": params, "masks": masks}, path)
PY
}

# prune_to_paper DEEPSZ MODEL FILE DATA_ARGS...: masks FILE's fc layers to
# the paper's densities by magnitude, one layer at a time, no retraining.
prune_to_paper() {
  local deepsz="$1" model="$2" file="$3" td densities
  shift 3
  densities=$(paper_densities "$model") || return 1
  for td in $densities; do
    "$deepsz" prune "$file" "$@" --layers "${td%%=*}" --density "${td#*=}" --score magnitude \
      --step-epochs 0 --final-epochs 0 --step-factor 0.3 --fine-step-factor 0.3 -q -o "$file.next.pt" > /dev/null || return 1
    mv "$file.next.pt" "$file"
  done
}
