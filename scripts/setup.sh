#!/usr/bin/env bash
# Installs what is missing (Debian 12, as root), configures and builds.
# Usage: scripts/setup.sh [extra cmake args...]   (BUILD_DIR, default build/)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"

PACKAGES=(build-essential cmake ninja-build pkg-config ccache
  libzstd-dev libxxhash-dev libzfp-dev nlohmann-json3-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev libtorch-dev python3-torch
  libopenblas0-pthread dataset-fashion-mnist clang libclang-rt-14-dev zstd
  zlib1g-dev chromium fonts-dejavu-core jq
  python3-dev pybind11-dev python3-numpy python3-pytest
  libonnx-dev libprotobuf-dev python3-onnx libopenmpi-dev openmpi-bin)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$BUILD_DIR" -j2

# `import deepsz` for Debian's /usr/bin/python3 (the one with python3-numpy and
# python3-torch; a pyenv or virtualenv python3 has its own site directory): a
# .pth in its site directory puts this build's package on sys.path before the
# site directories (where an older installed copy would shadow it) but after
# PYTHONPATH, so that a test run with PYTHONPATH=<its build>/python tests that
# build. The last build set up wins; DEEPSZ_NO_PTH=1 leaves the site directory
# alone.
if [[ -f "$BUILD_DIR/python/deepsz/__init__.py" && -x /usr/bin/python3 && "${DEEPSZ_NO_PTH:-0}" != 1 ]]; then
  SITE="$(/usr/bin/python3 -c 'import site; print(site.getsitepackages()[0])')"
  PKG="$(cd "$BUILD_DIR/python" && pwd)"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  # An import line, not a bare path: a path is appended after the site
  # directories, where an older copy of the package would shadow this one.
  $SUDO mkdir -p "$SITE"
  # (No comprehension: site runs the line with separate locals, which a
  # comprehension's scope cannot see.)
  printf 'import sys, site; d = [*filter(sys.path.__contains__, site.getsitepackages())]; sys.path.insert(min(map(sys.path.index, d)) if d else len(sys.path), %s)\n' \
    "'$PKG'" | $SUDO tee "$SITE/deepsz.pth" >/dev/null
  # This build's package, with no complaint of site about the .pth line.
  if ! err=$(/usr/bin/python3 -c "import deepsz, sys; sys.exit(deepsz.__file__ != '$PKG/deepsz/__init__.py')" 2>&1) ||
     [[ "$err" == *deepsz.pth* ]]; then
    echo "setup: /usr/bin/python3 does not import deepsz from $PKG${err:+: $err}" >&2; exit 1
  fi
  echo "setup: /usr/bin/python3 imports deepsz from $PKG" >&2
fi
