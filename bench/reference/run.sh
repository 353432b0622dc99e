#!/usr/bin/env bash
# The reference job (shared/peers/README.md) run by logpipe and by its peers side by side, on the
# same generated file, answers checked, timed in alternation. Writes bench/RESULTS.md and
# bench/results/reference-DATE.json. See bench/README.md.
#
#   bench/reference/run.sh [--quick] [--rounds N] [--size 1G] [--data-dir DIR] [--only a,b]
#                          [--build-dir DIR | --no-build] [--peers DIR]
#   bench/reference/run.sh --memory [--keep] [--big-size 4G] [--rounds N]
#   bench/reference/run.sh --chunk-sweep [--sizes 256KiB,...,4MiB] [--rounds N]
#
#   --quick        100 MiB, 1 round; results go to DATA_DIR/quick/, not into bench/
#   --memory       logpipe serial, threads(2), tbb(2), processes(2) on the 1 GiB file and on a 4 GiB file: peak RSS
#                  must stay within 10%; the 4 GiB file is deleted afterwards unless --keep
#   --chunk-sweep  logpipe serial, threads(2), tbb(2), processes(2) at each read.chunk_bytes in
#                  --sizes (and the default): what the default chunk size is chosen by (default 5 rounds)
#   --rounds N     counted rounds after the warm-up round (default 3; --quick 1; --memory 1)
#   --size SIZE    data size for logpipe-gen (default 1G)
#   --data-dir DIR generated data, the peers' logjob binary and run outputs (default
#                  /tmp/logpipe-bench); a data file is reused when its truth file says it was
#                  generated with the same size and seed and its size matches
#   --build-dir D  logpipe build directory (default REPO/build); built if needed
#   --no-build     use the binaries in the build directory as they are
#   --only LIST    run only these variants (comma-separated names, for trying)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
peers=${LOGPIPE_PEERS:-$(cd "$repo/.." && pwd)/shared/peers}
data_dir=/tmp/logpipe-bench
build_dir=$repo/build
size=1G
big_size=4G
seed=42
rounds=
quick=0
memory=0
chunk_sweep=0
sizes=256KiB,512KiB,1MiB,2MiB,4MiB
keep=0
no_build=0
only=
invocation="bench/reference/run.sh $*"

die() { echo "run.sh: $*" >&2; exit 1; }
usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --memory) memory=1 ;;
    --chunk-sweep) chunk_sweep=1 ;;
    --sizes) sizes=$2; shift ;;
    --keep) keep=1 ;;
    --rounds) rounds=$2; shift ;;
    --size) size=$2; shift ;;
    --big-size) big_size=$2; shift ;;
    --data-dir) data_dir=$2; shift ;;
    --build-dir) build_dir=$2; shift ;;
    --no-build) no_build=1 ;;
    --peers) peers=$2; shift ;;
    --only) only=$2; shift ;;
    -h|--help) usage 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage 64 ;;
  esac
  shift
done
if [ "$quick" = 1 ]; then
  [ "$size" = 1G ] && size=100M
  rounds=${rounds:-1}
fi
if [ "$memory" = 1 ]; then rounds=${rounds:-1}; fi
if [ "$chunk_sweep" = 1 ]; then rounds=${rounds:-5}; fi
rounds=${rounds:-3}
[ -d "$peers" ] || die "peers directory $peers not found (set --peers or LOGPIPE_PEERS)"
build_dir=$(mkdir -p "$build_dir" && cd "$build_dir" && pwd)
mkdir -p "$data_dir"
data_dir=$(cd "$data_dir" && pwd)
python=$(command -v python3) || die "python3 is needed"

# ---- 1. logpipe and logpipe-gen
logpipe=$build_dir/logpipe
gen=$build_dir/logpipe-gen
if [ "$no_build" = 1 ]; then
  [ -x "$logpipe" ] && [ -x "$gen" ] || die "--no-build: $logpipe or $gen is missing"
elif [ ! -f "$build_dir/build.ninja" ]; then
  echo "== building logpipe (scripts/build.sh $build_dir)"
  "$repo/scripts/build.sh" "$build_dir"
else
  echo "== bringing logpipe and logpipe-gen up to date in $build_dir"
  cmake --build "$build_dir" --target logpipe logpipe-gen >/dev/null ||
    die "the build in $build_dir failed (is someone mid-edit?); fix it, or use --build-dir DIR of another checkout, or --no-build"
fi

# ---- 2. data
label() { echo "$1" | tr '[:upper:]' '[:lower:]'; }
truth_matches() {  # FILE SIZE: the file and its truth exist, for this size and seed
  [ -f "$1" ] && [ -f "$1.truth.json" ] || return 1
  "$python" - "$1" "$2" "$seed" <<'EOF'
import json, os, sys
f, size, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
t = json.load(open(f + ".truth.json"))
a = t.get("args", {})
ok = str(a.get("size")) == size and a.get("seed") == seed and t.get("bytes") == os.path.getsize(f)
sys.exit(0 if ok else 1)
EOF
}
generate() {  # SIZE -> prints the data file path
  local f="$data_dir/access_$(label "$1").log"
  if truth_matches "$f" "$1"; then
    echo "== reusing $f" >&2
  else
    echo "== generating $f ($1, seed $seed)" >&2
    "$gen" --size "$1" --seed "$seed" -o "$f" >&2
  fi
  echo "$f"
}

# ---- 3. the peers' hand-written C++ job (never committed: it lives in the data dir)
logjob=$data_dir/logjob
if [ "$memory" = 0 ] && [ "$chunk_sweep" = 0 ]; then
  if ! dpkg-query -W -f='${Status}' libpcre2-dev 2>/dev/null | grep -q "install ok installed"; then
    echo "== installing libpcre2-dev (logjob.cc includes pcre2.h)"
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get install -y -qq --no-install-recommends libpcre2-dev >/dev/null 2>&1 ||
      { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends libpcre2-dev >/dev/null; }
  fi
  if [ ! -x "$logjob" ] || [ "$peers/logjob.cc" -nt "$logjob" ]; then
    echo "== building $logjob from $peers/logjob.cc"
    g++ -O2 -std=c++17 "$peers/logjob.cc" -lre2 -ltbb -lpcre2-8 -lpthread -o "$logjob"
  fi
fi

stamp=$(date +%Y-%m-%d-%H%M)
if [ "$memory" = 1 ]; then
  small=$(generate 1G)
  big=$(generate "$big_size")
  mkdir -p "$repo/bench/results"
  status=0
  "$python" "$here/bench.py" memory --logpipe "$logpipe" --repo "$repo" --peers "$peers" \
    --data "$small" --big "$big" --rounds "$rounds" --warmup 0 --workdir "$data_dir/out-memory" \
    --json-out "$repo/bench/results/memory-$stamp.json" --md-out "$repo/bench/RESULTS.md" \
    --invocation "$invocation" || status=$?
  if [ "$keep" = 0 ]; then
    echo "== deleting $big (use --keep to keep it)"
    rm -f "$big" "$big.truth.json"
  fi
  exit $status
fi

data=$(generate "$size")
if [ "$chunk_sweep" = 1 ]; then
  mkdir -p "$repo/bench/results"
  exec "$python" "$here/bench.py" chunks --logpipe "$logpipe" --repo "$repo" --peers "$peers" \
    --data "$data" --sizes "$sizes" --rounds "$rounds" --workdir "$data_dir/out-chunks" \
    --json-out "$repo/bench/results/chunks-$stamp.json" --md-out "$repo/bench/RESULTS.md" \
    --invocation "$invocation"
fi
if [ "$quick" = 1 ]; then
  out_dir=$data_dir/quick
  json_out=$out_dir/reference-quick-$stamp.json
  md_out=$out_dir/RESULTS.md
else
  out_dir=$repo/bench/results
  json_out=$out_dir/reference-$stamp.json
  md_out=$repo/bench/RESULTS.md
fi
mkdir -p "$out_dir"
args=(run --logpipe "$logpipe" --logjob "$logjob" --repo "$repo" --peers "$peers"
      --data "$data" --rounds "$rounds" --workdir "$data_dir/out"
      --json-out "$json_out" --md-out "$md_out" --invocation "$invocation")
[ "$quick" = 1 ] && args+=(--quick)
[ -n "$only" ] && args+=(--only "$only")
exec "$python" "$here/bench.py" "${args[@]}"
