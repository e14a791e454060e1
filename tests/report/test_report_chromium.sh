#!/usr/bin/env bash
# The HTML report as a browser shows it: dsz report renders the hand-made
# fixture, headless Chromium takes a screenshot of the page (and of one
# standalone SVG), png_check decodes it and requires that it shows something.
# A white page must be judged blank by the same check, so the check can fail.
# Every standalone SVG must be well-formed XML.
#   test_report_chromium.sh PATH/TO/dsz PATH/TO/png_check FIXTURE_DIR
# Exit 77 (ctest SKIP_RETURN_CODE) only when chromium is not installed.
set -uo pipefail
DSZ="$(realpath "$1")"
PNG_CHECK="$(realpath "$2")"
DATA="$(realpath "$3")"
CHROMIUM="$(command -v chromium || true)"
if [[ -z "$CHROMIUM" ]]; then
  echo "SKIP: chromium is not installed (Debian package 'chromium'; scripts/setup.sh installs it)"
  exit 77
fi
WORK="$(mktemp -d "${TMPDIR:-/tmp}/dsz-report-test.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# shot URL OUT.png WIDTH,HEIGHT: one screenshot, no network, a fresh profile.
shot() {
  local profile
  profile="$(mktemp -d "$WORK/profile.XXXXXX")"
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
    --user-data-dir="$profile" --screenshot="$2" --window-size="$3" "$1" > "$WORK/chromium.log" 2>&1
  local rc=$?
  if [[ $rc -ne 0 || ! -s "$2" ]]; then
    fail "chromium on $1 (exit $rc): $(grep -v -i -e dbus -e 'gpu' "$WORK/chromium.log" | tail -3)"
    return 1
  fi
}

"$DSZ" report "$DATA/handmade_lenet300_report.json" --assessment "$DATA/handmade_lenet300_assessment.json" \
  -o "$WORK/report.html" --plots "$WORK/plots" || { echo "FAIL: dsz report" >&2; exit 1; }

if shot "file://$WORK/report.html" "$WORK/report.png" 1200,2000; then
  if out=$("$PNG_CHECK" "$WORK/report.png" 200 8); then echo "ok: report screenshot: $out"
  else fail "report screenshot is blank: $out"; fi
fi
if shot "file://$WORK/plots/drop_vs_bound_fc1.weight.svg" "$WORK/svg.png" 560,452; then
  if out=$("$PNG_CHECK" "$WORK/svg.png" 50 3); then echo "ok: standalone SVG screenshot: $out"
  else fail "standalone SVG screenshot is blank: $out"; fi
fi
# The same check on a white page must say blank (exit 1).
printf '<!DOCTYPE html><html><body style="background:#fff"></body></html>\n' > "$WORK/white.html"
if shot "file://$WORK/white.html" "$WORK/white.png" 1200,2000; then
  out=$("$PNG_CHECK" "$WORK/white.png" 200 8); rc=$?
  if [[ $rc -eq 1 ]]; then echo "ok: a white page is judged blank: $out"
  else fail "a white page was not judged blank (exit $rc): $out"; fi
fi

n=0
for svg in "$WORK"/plots/*.svg; do
  n=$((n + 1))
  if ! /usr/bin/python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' "$svg" 2> "$WORK/xml.log"; then
    fail "$(basename "$svg") is not well-formed XML: $(tail -1 "$WORK/xml.log")"
  fi
done
[[ $n -eq 5 ]] || fail "expected 5 standalone SVG files, found $n"

if [[ $failures -ne 0 ]]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "report renders in chromium: all checks passed"
