#!/usr/bin/env bash
# The main job of the README: set up, build, then run deepsz on the built-in
# default. Until the model pipeline lands this is the codec benchmark on the
# generated pruned-like array.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
"$ROOT/scripts/setup.sh"
if [[ -x "$BUILD_DIR/src/cli/deepsz" && -x "$ROOT/scripts/pipeline.sh" ]]; then
  exec "$ROOT/scripts/pipeline.sh" "$@"
fi
exec "$BUILD_DIR/src/cli/dsz" bench --abs 1e-3 --abs 1e-2 "$@"
