#!/usr/bin/env bash
# Dependencies point one way (docs/ARCHITECTURE.md): every `#include
# "deepsz/..."` in a part's sources and public headers must name a header of
# that part or of a part below it, and libtorch is included only inside the
# model and pipeline sources, never in a public header. Run by CTest
# (layers.direction); prints each violation and exits 1.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# The part that owns each public header.
part_of_header() {
  case "$1" in
    error.h) echo base ;;
    codec.h|sparse_index.h|synthetic.h) echo codec ;;
    container.h|interrupt.h) echo format ;;
    optimize.h) echo optimize ;;
    html_report.h) echo report ;;
    interchange.h|onnx.h) echo interchange ;;
    model/*) echo model ;;
    pipeline/*) echo pipeline ;;
    distributed.h) echo distributed ;;
    *) echo unknown ;;
  esac
}

# What each part may include besides itself.
declare -A ALLOWED=(
  [base]=""
  [codec]="base"
  [format]="codec base"
  [optimize]="base"
  [report]="base"
  [interchange]="format codec base"
  [model]="interchange format codec optimize base"
  [pipeline]="model format codec optimize report base"
  [python]="format codec optimize base"
  [distributed]="pipeline model format codec optimize base"
  [cli]="distributed pipeline model interchange format codec optimize report base"
)

bad=0
check_file() {  # FILE PART
  local file="$1" part="$2" header owner
  while IFS= read -r header; do
    owner=$(part_of_header "$header")
    if [[ "$owner" == unknown ]]; then
      echo "$file: includes deepsz/$header, which no part owns (add it to scripts/check_layers.sh)"; bad=1
    elif [[ "$owner" != "$part" && " ${ALLOWED[$part]} " != *" $owner "* ]]; then
      echo "$file: $part includes deepsz/$header of $owner (allowed: ${ALLOWED[$part]:-nothing})"; bad=1
    fi
  done < <(grep -hoE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"deepsz/[^"]+"' "$file" | sed -E 's/.*"deepsz\/([^"]+)"/\1/')
}

for dir in src/*/; do
  part=$(basename "$dir")
  [[ -n "${ALLOWED[$part]+x}" ]] || { echo "$dir: a part not in scripts/check_layers.sh (declare what it may include)"; bad=1; continue; }
  while IFS= read -r -d '' f; do check_file "$f" "$part"; done < <(find "$dir" \( -name '*.h' -o -name '*.cpp' \) -print0)
done
while IFS= read -r -d '' f; do
  owner=$(part_of_header "${f#include/deepsz/}")
  if [[ "$owner" == unknown ]]; then
    echo "$f: a public header no part owns (add it to scripts/check_layers.sh)"; bad=1
  else
    check_file "$f" "$owner"
  fi
done < <(find include/deepsz -name '*.h' -print0)

while IFS= read -r f; do
  case "$f" in
    src/model/*.cpp|src/model/internal.h|src/model/onnx_program.h|src/pipeline/*.cpp) ;;
    *) echo "$f: includes libtorch (only src/model and src/pipeline sources may)"; bad=1 ;;
  esac
done < <(grep -rlE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](torch|ATen|c10)/' src include || true)

[[ $bad == 0 ]] && echo "layers: dependencies point one way"
exit $bad
