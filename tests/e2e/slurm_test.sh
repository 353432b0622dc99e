#!/usr/bin/env bash
# End-to-end test of scripts/slurm/logpipe-slurm (issue 8): starts a private single-node Slurm
# (munged + slurmctld + slurmd on localhost, in a temp dir, on ports of its own), then
#   1. runs logpipe-slurm with 3 shards over a bundled config and compares every output byte
#      for byte with `logpipe --config` on one machine;
#   2. runs it again with map shard 1 killed (SIGKILL) on its first attempt, and checks that
#      Slurm requeued that task (second attempt logged with SLURM_RESTART_COUNT=1), that the
#      reduce job behind `afterok` still ran, and that the outputs are still identical;
#   3. runs it with --retries 0 and shard 1 killed: exit 69 naming the shard, no outputs;
#   4. runs it with part 2 truncated just before the reduce: the reduce refuses it, and
#      logpipe-slurm --wait exits with the reduce's 65; no outputs;
# and first (no Slurm needed) scripts/parallel/logpipe-parallel under xargs and, when
# installed, GNU parallel, compared the same way.
# Usage: tests/e2e/slurm_test.sh [path/to/logpipe]   (default build/logpipe)
# Exit 0: passed; 1: failed; 77: skipped (one "SKIPPED: why" line), as CTest's SKIP_RETURN_CODE.
# Installs slurm-wlm and munge with apt-get when missing (needs root). Always stops the daemons
# it started and removes its temp dir (set LOGPIPE_SLURM_TEST_KEEP=1 to keep the dir).
set -euo pipefail

src=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
logpipe=$(readlink -f "${1:-$src/build/logpipe}")
config_rel=configs/errors_by_hour.yaml  # several outputs: JSON, CSV table, records, rejects
shards=3
# Each logpipe-slurm --wait is bounded, so the whole test ends (and its trap stops the daemons)
# before CTest's 300 s TIMEOUT, which kills with SIGKILL and would leave them running.
run_timeout=60  # 4 runs: at most 240 s, plus about 40 s to start Slurm
ctld_port=${LOGPIPE_SLURM_TEST_PORT:-16817}  # and the next one for slurmd

skip() { echo "SKIPPED: $*"; exit 77; }
fail() { echo "FAILED: $*" >&2; exit 1; }
step() { echo "== $*"; }

[ -x "$logpipe" ] || fail "no logpipe binary at '$logpipe' (build it: scripts/build.sh)"

# ---------------------------------------------------------------------------------------------
# Single-machine reference run, and the comparisons (used by every part).
tmp=$(mktemp -d /tmp/logpipe-slurm-test.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
  local rc=$?
  set +e
  if [ -n "${SLURM_CONF:-}" ] && [ -f "$SLURM_CONF" ]; then
    # Only this cluster's jobs (SLURM_CONF is ours); let slurmd end them before it stops.
    scancel --quiet --full -u root >/dev/null 2>&1
    for _ in $(seq 1 50); do
      [ -z "$(squeue -h 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for _ in $(seq 1 50); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  if [ "${LOGPIPE_SLURM_TEST_KEEP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A run directory: the bundled config and a `data` link to the bundled data, so the config's
# relative inputs resolve and its relative outputs land inside the directory.
make_run_dir() {
  mkdir -p "$1/configs"
  ln -s "$src/data" "$1/data"
  cp "$src/$config_rel" "$1/$config_rel"
}

# Compares every file under out/ of two run directories, and that neither is empty.
same_outputs() {  # same_outputs REF_DIR DIR WHAT
  local ref=$1 dir=$2 what=$3 f n=0
  [ -d "$dir/out" ] || fail "$what: no out/ directory: the reduce wrote nothing (see the logs above)"
  (cd "$ref/out" && find . -type f | sort) >"$tmp/ref.list"
  (cd "$dir/out" && find . -type f | sort) >"$tmp/got.list"
  diff -u "$tmp/ref.list" "$tmp/got.list" ||
    fail "$what: not the same output files as the single-machine run"
  while read -r f; do
    cmp "$ref/out/$f" "$dir/out/$f" || fail "$what: out/$f differs from the single-machine run"
    n=$((n + 1))
  done <"$tmp/ref.list"
  [ "$n" -gt 0 ] || fail "the single-machine run wrote no outputs"
  echo "$what: $n output files identical to the single-machine run"
}

step "single-machine run: logpipe --config $config_rel"
make_run_dir "$tmp/single"
(cd "$tmp/single" && "$logpipe" --config "$config_rel" --quiet) ||
  fail "the single-machine run failed"

# ---------------------------------------------------------------------------------------------
# 3 first (no daemons needed): GNU parallel / xargs -P.
engines=(xargs)
parallel --version 2>/dev/null | grep -q "GNU parallel" && engines+=(parallel)
for engine in "${engines[@]}"; do
  step "logpipe-parallel --engine $engine: $shards shards"
  make_run_dir "$tmp/parallel-$engine"
  (cd "$tmp/parallel-$engine" && "$src/scripts/parallel/logpipe-parallel" --config "$config_rel" \
    --shards "$shards" --workdir "$tmp/parallel-$engine/work" --logpipe "$logpipe" \
    --engine "$engine") || fail "logpipe-parallel --engine $engine failed (its messages are above)"
  same_outputs "$tmp/single" "$tmp/parallel-$engine" "logpipe-parallel --engine $engine"
done
[ ${#engines[@]} = 2 ] || echo "GNU parallel is not installed: logpipe-parallel checked with xargs only"

# ---------------------------------------------------------------------------------------------
# A private single-node Slurm.
step "starting munged, slurmctld and slurmd in $tmp/slurm"
[ "$(id -u)" -eq 0 ] || skip "the Slurm test needs root (to install and run munged, slurmctld, slurmd)"
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null ||
  ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  echo "installing slurm-wlm and munge with apt-get"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends slurm-wlm munge; } >"$tmp/apt.log" 2>&1 ||
    skip "apt-get install slurm-wlm munge failed: $(tail -n1 "$tmp/apt.log")"
fi

s=$tmp/slurm
mkdir -p "$s"/{state,spool,log}
chmod 700 "$s"
# munged with a key, socket and files of its own: no system munged or /etc/munge needed.
if ! mungekey -c -b 1024 -k "$s/munge.key" 2>/dev/null; then
  dd if=/dev/urandom of="$s/munge.key" bs=128 count=1 2>/dev/null
fi
chmod 600 "$s/munge.key"
munged --force --socket="$s/munge.sock" --key-file="$s/munge.key" --pid-file="$s/munged.pid" \
  --log-file="$s/log/munged.log" --seed-file="$s/munged.seed" >"$s/log/munged.out" 2>&1 ||
  skip "munged does not start: $(tail -n1 "$s/log/munged.out")"
pids+=("$(cat "$s/munged.pid")")

# Two free ports in a row from 16817 up: another copy of this test may be running.
port_busy() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }
while port_busy "$ctld_port" || port_busy $((ctld_port + 1)); do
  ctld_port=$((ctld_port + 2))
  [ "$ctld_port" -lt 16900 ] || skip "no two free TCP ports between 16817 and 16900 for slurmctld and slurmd"
done
slurmd_port=$((ctld_port + 1))
host=$(hostname -s)
cpus=$(slurmd -C 2>/dev/null | sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' | head -n1)
[ -n "$cpus" ] || skip "slurmd -C does not report this node's CPUs"
# Addresses are 127.0.0.1, so the host name need not resolve.
# cred_expire=10: a requeued task is eligible again after 11 s, not the default 121 s;
# sched_interval=2 and bf_interval=2: the scheduler notices that soon.
cat >"$s/slurm.conf" <<EOF
ClusterName=logpipetest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$s/munge.sock,cred_expire=10
CredType=cred/munge
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
StateSaveLocation=$s/state
SlurmdSpoolDir=$s/spool
SlurmctldPidFile=$s/slurmctld.pid
SlurmdPidFile=$s/slurmd.pid
SlurmctldLogFile=$s/log/slurmctld.log
SlurmdLogFile=$s/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=2
ReturnToService=2
MpiDefault=none
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=logpipetest Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$s/slurm.conf

slurmctld -c >"$s/log/slurmctld.out" 2>&1 ||
  skip "slurmctld does not start: $(tail -n1 "$s/log/slurmctld.out") $(tail -n1 "$s/log/slurmctld.log" 2>/dev/null)"
for _ in $(seq 1 50); do [ -s "$s/slurmctld.pid" ] && break; sleep 0.1; done
[ -s "$s/slurmctld.pid" ] || skip "slurmctld did not write its pid file: $(tail -n2 "$s/log/slurmctld.log")"
pids+=("$(cat "$s/slurmctld.pid")")
slurmd -c >"$s/log/slurmd.out" 2>&1 ||
  skip "slurmd does not start: $(tail -n1 "$s/log/slurmd.out") $(tail -n1 "$s/log/slurmd.log" 2>/dev/null)"
for _ in $(seq 1 50); do [ -s "$s/slurmd.pid" ] && break; sleep 0.1; done
[ -s "$s/slurmd.pid" ] || skip "slurmd did not write its pid file: $(tail -n2 "$s/log/slurmd.log")"
pids+=("$(cat "$s/slurmd.pid")")
idle=0
for _ in $(seq 1 60); do
  if sinfo -h -o %T 2>/dev/null | grep -qx idle; then idle=1; break; fi
  sleep 0.5
done
[ "$idle" = 1 ] || skip "the Slurm node did not become idle within 30 s: $(sinfo -h 2>&1 | head -n1); $(tail -n2 "$s/log/slurmctld.log")"
echo "Slurm up: $(sinfo -h -o '%P %T %c CPUs' | head -n1)"

show_logs() {  # show_logs WORKDIR: the task logs, for a failure's context
  local f
  for f in "$1"/logs/*; do
    [ -f "$f" ] || continue
    echo "--- $f"
    cat "$f"
  done
}

# slurm_run RUN_DIR LOGPIPE RETRIES: logpipe-slurm --wait from RUN_DIR into RUN_DIR/work, its
# output in RUN_DIR.out, bounded by run_timeout.
slurm_run() {
  (cd "$1" && timeout "$run_timeout" "$src/scripts/slurm/logpipe-slurm" --config "$config_rel" \
    --shards "$shards" --workdir "$1/work" --logpipe "$2" --retries "$3" --time 5:00 --wait) \
    >"$1.out" 2>&1
}

# ---------------------------------------------------------------------------------------------
step "1. logpipe-slurm: $shards map tasks, then reduce"
make_run_dir "$tmp/run1"
w1=$tmp/run1/work
slurm_run "$tmp/run1" "$logpipe" 1 || {
  cat "$tmp/run1.out"
  show_logs "$w1"
  fail "logpipe-slurm run 1 failed"
}
cat "$tmp/run1.out"
map_job=$(sed -n 's/^map_job=//p' "$tmp/run1.out")
[ -n "$map_job" ] || fail "logpipe-slurm did not print map_job=ID"
for ((i = 0; i < shards; i++)); do
  grep -q "wrote $w1/part-$i.lpp" "$w1/logs/map-${map_job}_$i.out" ||
    fail "map task $i did not log writing its part: $(cat "$w1/logs/map-${map_job}_$i.out")"
done
same_outputs "$tmp/single" "$tmp/run1" "slurm run 1"

# ---------------------------------------------------------------------------------------------
step "2. logpipe-slurm with map shard 1 killed on its first attempt: requeue, then reduce"
make_run_dir "$tmp/run2"
w2=$tmp/run2/work
marker=$tmp/run2/crashed-once
# The wrapper passed as --logpipe: the first `logpipe map --shard 1` SIGKILLs itself before
# committing its part (LOGPIPE_TEST_CRASH_AT), and leaves a marker so later attempts run plainly.
cat >"$tmp/run2/logpipe-crash-once" <<EOF
#!/usr/bin/env bash
if [ "\${1:-}" = map ] && [ ! -e "$marker" ]; then
  prev=""
  for a in "\$@"; do
    if [ "\$prev" = --shard ] && [ "\$a" = 1 ]; then
      echo "crash-once wrapper: shard 1, first attempt: LOGPIPE_TEST_CRASH_AT=map-before-commit" >&2
      date -Is >"$marker"
      export LOGPIPE_TEST_CRASH_AT=map-before-commit
    fi
    prev=\$a
  done
fi
exec "$logpipe" "\$@"
EOF
chmod +x "$tmp/run2/logpipe-crash-once"
start=$(date +%s)
slurm_run "$tmp/run2" "$tmp/run2/logpipe-crash-once" 1 || {
  cat "$tmp/run2.out"
  show_logs "$w2"
  fail "logpipe-slurm run 2 (shard 1 killed once) failed: the requeue did not recover it"
}
cat "$tmp/run2.out"
echo "run 2 took $(($(date +%s) - start)) s"
map_job=$(sed -n 's/^map_job=//p' "$tmp/run2.out")
[ -e "$marker" ] || fail "the crash-once wrapper never ran for shard 1: the test proves nothing"
log1=$w2/logs/map-${map_job}_1.out
echo "--- $log1"
cat "$log1"
grep -q "map shard 1, .* attempt 1 (SLURM_RESTART_COUNT=0)" "$log1" ||
  fail "no first attempt of shard 1 in its log"
grep -q "map shard 1 failed (exit .*) on attempt 1; requeueing" "$log1" ||
  fail "shard 1's first attempt did not fail and requeue (the crash hook did not fire?)"
grep -q "map shard 1, .* attempt 2 (SLURM_RESTART_COUNT=1)" "$log1" ||
  fail "shard 1 was not run again by Slurm with SLURM_RESTART_COUNT=1"
grep -q "wrote $w2/part-1.lpp" "$log1" || fail "shard 1's second attempt did not write its part"
restarts=$(scontrol show job -o "${map_job}_1" 2>/dev/null | tr ' ' '\n' | sed -n 's/^Restarts=//p')
echo "scontrol show job ${map_job}_1: Restarts=${restarts:-?}"
[ "${restarts:-1}" = 1 ] || fail "scontrol says shard 1 was restarted ${restarts} times, not once"
for i in 0 2; do
  grep -q "attempt 2" "$w2/logs/map-${map_job}_$i.out" && fail "shard $i ran twice: only shard 1 should"
done
same_outputs "$tmp/single" "$tmp/run2" "slurm run 2 (shard 1 requeued)"

# ---------------------------------------------------------------------------------------------
step "3. logpipe-slurm --retries 0 with map shard 1 killed: the reduce never runs, exit 69"
make_run_dir "$tmp/run3"
w3=$tmp/run3/work
marker=$tmp/run3/crashed-once
sed "s|$tmp/run2/crashed-once|$marker|" "$tmp/run2/logpipe-crash-once" \
  >"$tmp/run3/logpipe-crash-once"
chmod +x "$tmp/run3/logpipe-crash-once"
rc=0
slurm_run "$tmp/run3" "$tmp/run3/logpipe-crash-once" 0 || rc=$?
cat "$tmp/run3.out"
[ "$rc" = 69 ] || fail "a map task that fails for good should make logpipe-slurm --wait exit 69, not $rc"
grep -q "map shard(s) 1 (FAILED) did not write" "$tmp/run3.out" || fail "the message does not name shard 1"
[ ! -e "$tmp/run3/out" ] || fail "outputs were written although a map task failed"
grep -q "no retries left" "$w3"/logs/map-*_1.out || fail "shard 1's log does not say it failed for good"

# ---------------------------------------------------------------------------------------------
step "4. logpipe-slurm with part 2 truncated before the reduce: the reduce refuses it (exit 65)"
make_run_dir "$tmp/run4"
cat >"$tmp/run4/logpipe-truncate-part" <<EOF
#!/usr/bin/env bash
if [ "\${1:-}" = reduce ]; then
  truncate -s -1 "$tmp/run4/work/part-2.lpp"
  echo "truncate-part wrapper: cut the last byte of part-2.lpp" >&2
fi
exec "$logpipe" "\$@"
EOF
chmod +x "$tmp/run4/logpipe-truncate-part"
rc=0
slurm_run "$tmp/run4" "$tmp/run4/logpipe-truncate-part" 1 || rc=$?
cat "$tmp/run4.out"
reduce_job=$(sed -n 's/^reduce_job=//p' "$tmp/run4.out")
echo "--- $tmp/run4/work/logs/reduce-$reduce_job.out"
cat "$tmp/run4/work/logs/reduce-$reduce_job.out"
[ "$rc" = 65 ] || fail "a refused part should make logpipe-slurm --wait exit 65 (the reduce's code), not $rc"
grep -q "part-2.lpp" "$tmp/run4/work/logs/reduce-$reduce_job.out" ||
  fail "the reduce's message does not name part-2.lpp"
grep -q "reduce job $reduce_job ended FAILED (exit 65)" "$tmp/run4.out" ||
  fail "logpipe-slurm does not say the reduce job failed with exit 65"
[ ! -e "$tmp/run4/out" ] || fail "outputs were written although the reduce refused a part"

echo "PASSED: logpipe-parallel and logpipe-slurm (plain, with a killed map task requeued, failing"\
  "for good, and with a corrupt part) give the single-machine outputs or fail cleanly"
