#!/usr/bin/env bash
# The README's second command: set up and run every test, twice: a normal optimised build, and
# a build with AddressSanitizer + UndefinedBehaviorSanitizer; then the execution-model tests a
# third time under ThreadSanitizer; then runs each fuzz target for a bounded time (scripts/fuzz.sh,
# FUZZ_SECONDS each, 20 by default here). Also checks the layering rules.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

scripts/check-layers.sh

echo "== build and test (RelWithDebInfo)"
scripts/build.sh build
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== build and test (ASan + UBSan)"
scripts/build.sh build-asan -DLOGPIPE_SANITIZE=address,undefined
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs"

# The execution models' tests (CPU executors and their queue, the fetch stage's prefetcher
# over local files, the byte pipe between them, the run trace). Tests that need libcurl or
# httplib threads are not run here: those libraries are not built with TSan, so it would
# report false races.
echo "== execution-model tests under ThreadSanitizer"
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOGPIPE_SANITIZE=thread >/dev/null
cmake --build build-tsan --target pipeline_test
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  ctest --test-dir build-tsan --output-on-failure -j"$jobs" \
  -R 'ExecMatrix|Executor|Process|PrefetcherFiles|StreamBuffer|BlockingQueue|RunTrace'

# Fuzz targets (tests/fuzz): a clang build of their own in build-fuzz/, then each target from
# its seed corpus; any crash fails CI with the reproducer's path.
echo "== fuzz targets (libFuzzer), ${FUZZ_SECONDS:-20}s each"
FUZZ_SECONDS=${FUZZ_SECONDS:-20} scripts/fuzz.sh
