# Shared helpers of the command-line tests (sourced; not run on its own).
# The caller sets PROG to the program's name ("dsz", "deepsz"): every failing
# command must print exactly one stderr line starting "PROG: ".
failures=0

# enter_work_dir NAME: a fresh directory (removed on exit) as the current one,
# and the environment deepsz runs with in every test (no OpenMP re-exec:
# half the start-up time; one OpenBLAS thread).
enter_work_dir() {
  export OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")"
  trap 'rm -rf "$WORK"' EXIT
  cd "$WORK" || exit 1
}
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

# run_ok DESCRIPTION CMD...: must exit 0.
run_ok() {
  local what="$1"; shift
  if "$@" > out.log 2> err.log; then ok "$what"; else fail "$what (exit $?): $(tail -3 err.log)"; fi
}

# run_bad DESCRIPTION EXPECTED_EXIT OUTPUT_PATH [GREP] -- CMD...: must exit
# with the expected code, print exactly one stderr line "PROG: ..." (matching
# GREP, case-insensitive, when given), leave OUTPUT_PATH absent and no file
# added, removed or renamed in the working directory.
run_bad() {
  local what="$1" want="$2" out="$3" pattern=""; shift 3
  if [[ "$1" != "--" ]]; then pattern="$1"; shift; fi
  if [[ "$1" != "--" ]]; then fail "$what: run_bad needs -- before the command"; return; fi
  shift
  local before after rc lines
  before=$(ls -A | grep -v -e '^err.log$' -e '^out.log$' | sort)
  "$@" > out.log 2> err.log
  rc=$?
  after=$(ls -A | grep -v -e '^err.log$' -e '^out.log$' | sort)
  lines=$(wc -l < err.log)
  if [[ $rc -ne $want ]]; then fail "$what: exit $rc, expected $want ($(head -3 err.log))"; return; fi
  if [[ $lines -ne 1 ]]; then fail "$what: $lines lines on stderr: $(head -5 err.log)"; return; fi
  if ! grep -q "^$PROG: " err.log; then fail "$what: stderr lacks the $PROG: prefix: $(cat err.log)"; return; fi
  if [[ -n "$pattern" ]] && ! grep -qi -- "$pattern" err.log; then fail "$what: message lacks '$pattern': $(cat err.log)"; return; fi
  if [[ -n "$out" && -e "$out" ]]; then fail "$what: output $out left behind"; return; fi
  if [[ "$before" != "$after" ]]; then fail "$what: files changed: $(diff <(echo "$before") <(echo "$after") | tr '\n' ' ')"; return; fi
  ok "$what -> exit $rc: $(cat err.log)"
}

# A tiny MNIST-layout IDX data set.
be32() { printf "\\x$(printf %02x $(( ($1 >> 24) & 255 )))\\x$(printf %02x $(( ($1 >> 16) & 255 )))\\x$(printf %02x $(( ($1 >> 8) & 255 )))\\x$(printf %02x $(( $1 & 255 )))"; }
# write_idx DIR PREFIX COUNT SIDE [LABEL_MOD]: random pixels, labels i % LABEL_MOD.
write_idx() {
  local dir="$1" prefix="$2" n="$3" side="$4" mod="${5:-10}" i
  { printf '\x00\x00\x08\x03'; be32 "$n"; be32 "$side"; be32 "$side"; head -c $((n * side * side)) /dev/urandom; } \
    > "$dir/$prefix-images-idx3-ubyte"
  { printf '\x00\x00\x08\x01'; be32 "$n"; for ((i = 0; i < n; i++)); do printf "\\x$(printf %02x $((i % mod)))"; done; } \
    > "$dir/$prefix-labels-idx1-ubyte"
}
# finish: the summary line and the exit status of the script.
finish() {
  if [[ $failures -ne 0 ]]; then
    echo "$failures failure(s)" >&2
    exit 1
  fi
  echo "all $PROG command-line tests passed"
}
