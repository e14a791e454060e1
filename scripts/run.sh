#!/usr/bin/env bash
# The main job of the README: set up, build, then `deepsz run` on the
# built-in default (LeNet-300-100 on Debian's Fashion-MNIST; arguments are
# passed on, e.g. --fresh, --seed N, --json).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
exec "$ROOT/scripts/pipeline.sh" "$@"
