#!/usr/bin/env bash
# The fetch stage's latency-hiding benchmark (issue 5): the reference job over N URLs served on
# loopback with injected latency, logpipe's fetch models side by side with the peers' Python
# recipes, answers checked. Writes the fetch section of bench/RESULTS.md and
# bench/results/fetch-DATE.json. See bench/README.md.
#
#   bench/fetch/run.sh [--quick] [--files N] [--size 1M] [--latency-ms 100] [--rounds N]
#                      [--data-dir DIR] [--build-dir DIR | --no-build] [--only a,b]
#
#   --quick        20 files, 1 round; results go to DATA_DIR, not into bench/
#   --files N      how many URLs (default 100), each --size of data (default 1M)
#   --latency-ms   sleep of the server before each response (default 100)
#   --rounds N     counted rounds after one warm-up round (default 3)
#   --data-dir DIR generated files and run outputs (default /tmp/logpipe-bench)
#   --build-dir D  logpipe build directory (default REPO/build); built if needed
#   --no-build     use the binaries in the build directory as they are
#   --only LIST    run only these variants (comma-separated names, for trying)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
peers=${LOGPIPE_PEERS:-$(cd "$repo/.." && pwd)/shared/peers}
data_dir=/tmp/logpipe-bench
build_dir=$repo/build
files=100
size=1M
latency=100
rounds=3
quick=0
no_build=0
only=

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --files) files=$2; shift ;;
    --size) size=$2; shift ;;
    --latency-ms) latency=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --data-dir) data_dir=$2; shift ;;
    --build-dir) build_dir=$2; shift ;;
    --no-build) no_build=1 ;;
    --only) only=$2; shift ;;
    -h|--help) usage 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage 64 ;;
  esac
  shift
done

[ -d "$peers" ] || { echo "run.sh: peers not found at $peers (set LOGPIPE_PEERS)" >&2; exit 1; }
if [ "$no_build" = 0 ]; then
  if [ -f "$build_dir/build.ninja" ]; then
    cmake --build "$build_dir" --target logpipe logpipe-gen >/dev/null
  else
    "$repo/scripts/build.sh" "$build_dir" >/dev/null
  fi
fi
mkdir -p "$data_dir"
python=$(python3 -c 'import sys, os; print(os.path.realpath(sys.executable))')
stamp=$(date +%Y%m%d-%H%M%S)
if [ "$quick" = 1 ]; then
  files=20
  rounds=1
  json_out=$data_dir/fetch-quick-$stamp.json
  results_md=$data_dir/FETCH-QUICK.md
else
  mkdir -p "$repo/bench/results"
  json_out=$repo/bench/results/fetch-$stamp.json
  results_md=$repo/bench/RESULTS.md
fi

exec "$python" "$here/fetch_bench.py" --logpipe "$build_dir/logpipe" --gen "$build_dir/logpipe-gen" \
  --repo "$repo" --peers "$peers" --data-dir "$data_dir" --files "$files" --size "$size" \
  --latency-ms "$latency" --rounds "$rounds" --only "$only" --json-out "$json_out" \
  --results-md "$results_md"
