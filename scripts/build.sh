#!/usr/bin/env bash
# Configures and builds logpipe into build/ (or $1), installing dependencies first.
# Extra arguments are passed to cmake, e.g. scripts/build.sh build-asan -DLOGPIPE_SANITIZE=address,undefined
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
scripts/install-deps.sh
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$dir"
