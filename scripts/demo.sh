#!/usr/bin/env bash
# The README's first command: set up (install, build) and run the demo job on the bundled data.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh build >&2
exec build/logpipe --config configs/run.yaml "$@"
