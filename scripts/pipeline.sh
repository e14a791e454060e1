#!/usr/bin/env bash
# The main job: train LeNet-300-100 on Fashion-MNIST, prune it under 0.2 of
# the 0.3-point budget against dense, compress under 0.3 against dense,
# decompress, evaluate, print one table (docs/PIPELINE.md, "deepsz run").
# The trained and pruned models are cached (~/.cache/deepsz, else
# ./.cache/deepsz; the path is printed); --fresh rebuilds them.
#   scripts/pipeline.sh [--data DIR] [--cache DIR] [--fresh] [--max-loss 0.3]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
if [[ ! -x "$BUILD_DIR/src/cli/deepsz" ]]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja >/dev/null
  cmake --build "$BUILD_DIR" -j"$(nproc)" --target deepsz
fi
exec "$BUILD_DIR/src/cli/deepsz" run "$@"
