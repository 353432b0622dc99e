#!/usr/bin/env bash
# Checks logpipe-gen's truth files against an independent implementation of the reference job:
# shared/peers/py_job.py (Python `re` on bytes, no code shared with the generator). For each
# case it generates a log, prints the truth JSON as result text (truth_to_text.py), runs
# py_job.py on the log and diffs the two texts. Also checks that the same arguments give the
# same bytes. Exit status 0 only if every case agrees.
#
#   scripts/check_generator.sh [BUILD_DIR] [SIZE]      (defaults: build-gen, 20M)
#   PEERS=/path/to/shared/peers scripts/check_generator.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-$ROOT/build-gen}"
SIZE="${2:-20M}"
PEERS="${PEERS:-$ROOT/../shared/peers}"
GEN="$BUILD/logpipe-gen"
[[ -x "$GEN" ]] || { echo "no $GEN: build it with ninja -C $BUILD logpipe-gen" >&2; exit 2; }
[[ -f "$PEERS/py_job.py" ]] || { echo "no $PEERS/py_job.py (set PEERS)" >&2; exit 2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/check-generator.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

fail=0
check() {  # check NAME GENERATOR-ARGS...
  local name="$1"
  shift
  local log="$WORK/$name.log"
  "$GEN" -o "$log" "$@" 2>"$WORK/$name.gen.err"
  python3 "$PEERS/truth_to_text.py" "$log.truth.json" >"$WORK/$name.truth.txt"
  python3 "$PEERS/py_job.py" --mode single "$log" >"$WORK/$name.py.txt" 2>/dev/null
  if diff -u "$WORK/$name.truth.txt" "$WORK/$name.py.txt" >"$WORK/$name.diff"; then
    printf 'ok    %-14s %s | %s\n' "$name" "$(head -3 "$WORK/$name.truth.txt" | tr '\n' ' ')" \
      "$(sed 's/^logpipe-gen: //' "$WORK/$name.gen.err")"
  else
    printf 'FAIL  %-14s truth and py_job.py differ:\n' "$name"
    head -40 "$WORK/$name.diff"
    fail=1
  fi
}

check seed42 --size "$SIZE" --seed 42
check seed7-rt --size "$SIZE" --seed 7 --request-time --malformed-rate 0.02
check all-bad --size 2M --seed 3 --malformed-rate 1 --request-time
check tiny-site --size 2M --seed 5 --ips 16 --paths 64 --malformed-rate 0.2

# Same arguments, same bytes (and the same truth, apart from the output name).
"$GEN" -o "$WORK/again.log" --size "$SIZE" --seed 42 2>/dev/null
if cmp -s "$WORK/seed42.log" "$WORK/again.log"; then
  echo "ok    rerun          same arguments gave identical bytes"
else
  echo "FAIL  rerun          same arguments gave different bytes"
  fail=1
fi
exit $fail
