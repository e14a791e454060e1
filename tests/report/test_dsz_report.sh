#!/usr/bin/env bash
# dsz report on good and bad input: the page and the figures written, the
# input left alone; every bad input one line "dsz: ..." on stderr, a nonzero
# exit and no output left behind.
#   test_dsz_report.sh PATH/TO/dsz FIXTURE_DIR
set -uo pipefail
DSZ="$(realpath "$1")"
DATA="$(realpath "$2")"
PROG=dsz
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../cli" && pwd)/lib.sh"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/dsz-report-cli.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

cp "$DATA/handmade_lenet300_report.json" r.json
cp "$DATA/handmade_lenet300_assessment.json" t.json
sum_before=$(sha256sum r.json t.json)

run_ok "report with figures" "$DSZ" report r.json --assessment t.json -o page.html --plots figs
[[ -s page.html ]] || fail "page.html not written"
for f in drop_vs_bound_fc1.weight drop_vs_bound_fc2.weight drop_vs_bound_fc3.weight bytes_per_layer prune_trajectory; do
  [[ -s "figs/$f.svg" ]] || fail "figs/$f.svg not written"
done
grep -q "page.html: .* 5 figure(s) also in figs" out.log || fail "summary line: $(cat out.log)"
run_ok "default output name" "$DSZ" report r.json
[[ -s r.html ]] || fail "r.html (the default beside r.json) not written"
run_ok "rendering again over an existing page" "$DSZ" report r.json -o page.html
[[ "$(sha256sum r.json t.json)" == "$sum_before" ]] || fail "an input was changed"
ls -A | grep -q '\.tmp' && fail "temporary file left: $(ls -A)"
rm -f page.html r.html

printf 'not json' > bad.json
printf '{"format": "deepsz-compress-report", "version": 7, "layers": []}' > future.json
sed 's/"ratio": [0-9.e+-]*/"ratio": "high"/' r.json > wrongtype.json
/usr/bin/python3 -c '
import json
t = json.load(open("t.json"))
t["layers"][0]["elements"] = 17
json.dump(t, open("other_table.json", "w"))'
touch notdir

run_bad "missing input" 1 out.html "cannot open" -- "$DSZ" report missing.json -o out.html
run_bad "not JSON" 1 out.html "bad.json: not a deepsz compress report: not JSON" -- "$DSZ" report bad.json -o out.html
run_bad "a table given as the report" 1 out.html "t.json: .*format \"deepsz-assessment\"" -- "$DSZ" report t.json -o out.html
run_bad "future version" 1 out.html "version 7" -- "$DSZ" report future.json -o out.html
run_bad "field of the wrong type" 1 out.html "'ratio' is not a number" -- "$DSZ" report wrongtype.json -o out.html
run_bad "table of another run" 1 out.html "other_table.json: .*not the table of this run" -- \
  "$DSZ" report r.json --assessment other_table.json -o out.html
run_bad "report given as the table" 1 out.html "r.json: not a deepsz assessment table" -- \
  "$DSZ" report r.json --assessment r.json -o out.html
run_bad "output is the input" 2 "" "is the input" -- "$DSZ" report r.json -o r.json
run_bad "output is a directory" 2 "" "is a directory" -- "$DSZ" report r.json -o "$WORK"
run_bad "--plots is a file" 2 out.html "not a directory" -- "$DSZ" report r.json -o out.html --plots notdir
run_bad "no report named" 2 "" -- "$DSZ" report
[[ "$(sha256sum r.json t.json)" == "$sum_before" ]] || fail "an input was changed"
finish
