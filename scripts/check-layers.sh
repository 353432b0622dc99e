#!/usr/bin/env bash
# Layers go one way: pipeline -> stages -> io. Only pipeline/ may own threads, TBB or processes.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
for d in stages io; do
  if grep -rnE '#include *[<"](thread|mutex|condition_variable|future|tbb/)' "$d"; then
    echo "check-layers: $d/ must not include threading headers (executors in pipeline/ own concurrency)"; fail=1
  fi
  if grep -rnE '\b(fork|waitpid)\s*\(' "$d"; then
    echo "check-layers: $d/ must not fork or wait for processes"; fail=1
  fi
  if grep -rnE '#include *"pipeline/' "$d"; then
    echo "check-layers: $d/ must not include pipeline/ (layers go pipeline -> stages -> io)"; fail=1
  fi
done
if grep -rnE '#include *"stages/' io; then
  echo "check-layers: io/ must not include stages/"; fail=1
fi
[ $fail -eq 0 ] && echo "check-layers: ok"
exit $fail
