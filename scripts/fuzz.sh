#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang into build-fuzz/ and runs each for a
# bounded time, starting from its seed corpus (tests/fuzz/corpus/TARGET). Fails on the first
# crash, leak, sanitizer report or timeout and prints the reproducer's path; rerun one with
#   build-fuzz/fuzz/fuzz_TARGET PATH
# and turn it into a unit test in tests/<module>/ before fixing it.
#
#   scripts/fuzz.sh                   every target, FUZZ_SECONDS (default 30) each
#   scripts/fuzz.sh chunker config    only those
#   FUZZ_SECONDS=600 scripts/fuzz.sh  a longer search
# New inputs the fuzzer finds go to build-fuzz/corpus/TARGET (not into the source tree).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-30}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(config filter chunker decompress partials heads state shard_plan)

scripts/install-deps.sh
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLOGPIPE_FUZZ=ON >/dev/null
cmake --build build-fuzz --target $(printf 'fuzz_%s ' "${targets[@]}")

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "${targets[@]}"; do
  work=build-fuzz/corpus/$t
  artifacts=build-fuzz/artifacts/$t
  mkdir -p "$work" "$artifacts"
  echo "== fuzz $t for ${seconds}s"
  log=build-fuzz/fuzz-$t.log
  if ! build-fuzz/fuzz/fuzz_"$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" "$work" "tests/fuzz/corpus/$t" \
      >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz: target $t failed; reproducer(s):" >&2
    ls -1 "$artifacts"/* >&2 || true
    echo "fuzz: reproduce with build-fuzz/fuzz/fuzz_$t ARTIFACT; full log: $log" >&2
    exit 1
  fi
  grep -E '^stat::(number_of_executed_units|new_units_added)' "$log" | tr '\n' ' ' || true
  echo
done
echo "fuzz: no crash in ${targets[*]} (${seconds}s each)"
