#!/usr/bin/env bash
# A PNG of a report page in headless Chromium (the README's screenshot):
#   scripts/report_screenshot.sh PAGE.html OUT.png [WIDTH,HEIGHT]
# e.g. after scripts/run.sh:
#   scripts/report_screenshot.sh ~/.cache/deepsz/lenet300-0.3.html docs/images/report.png
set -euo pipefail
[[ $# -ge 2 ]] || { echo "usage: report_screenshot.sh PAGE.html OUT.png [WIDTH,HEIGHT]" >&2; exit 2; }
page="$(realpath "$1")"; out="$2"; size="${3:-1100,2400}"
[[ -s "$page" ]] || { echo "report_screenshot.sh: no page at $1" >&2; exit 1; }
command -v chromium >/dev/null || { echo "report_screenshot.sh: chromium is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
profile="$(mktemp -d)"; trap 'rm -rf "$profile"' EXIT
tmp="$out.tmp.png"
timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
  --user-data-dir="$profile" --screenshot="$tmp" --window-size="$size" "file://$page" >/dev/null 2>&1
[[ -s "$tmp" ]] || { echo "report_screenshot.sh: chromium wrote no screenshot" >&2; exit 1; }
mv "$tmp" "$out"
echo "$out"
