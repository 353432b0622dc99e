#!/usr/bin/env python3
"""Timing, answer checks and the report for bench/reference/run.sh (stdlib only).

    bench.py run    --logpipe BIN --logjob BIN --repo DIR --peers DIR --data FILE [--rounds N] ...
    bench.py memory --logpipe BIN --repo DIR --peers DIR --data FILE --big FILE [--rounds N] ...
    bench.py report --results-dir DIR --out RESULTS.md

`run` times every variant of the reference job as a whole process (start-up included): wall
time around fork/exec/wait4, user+sys CPU and peak RSS (ru_maxrss: the largest single process
of the child's tree, as the kernel accounts it for the reaped child) from os.wait4. One warm-up
round, then N rounds in alternation (A B C ... A B C ...). Every run's stdout is converted to
the peers' common text and compared with the generator's truth; a variant whose answer differs
is WRONG and left out of every ratio. Writes the raw runs as JSON and a markdown report.

`memory` runs logpipe serial, threads(2), tbb(2) and processes(2) on the 1 GiB file and on a larger (4 GiB) file in
alternation and compares their peak RSS (bar: within 10%).

`chunks` runs logpipe serial, threads(2), tbb(2) and processes(2) on the reference job at
several read.chunk_bytes in alternation: what the default chunk size is chosen by.

`report` re-renders the markdown from the newest reference-*.json, memory-*.json and
chunks-*.json.
"""
import argparse
import datetime
import glob
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import logpipe_to_text  # noqa: E402

MIB = 1024 * 1024

# Bars from the execution-model issue.
BAR_SERIAL_VS_PY = 2.5
BAR_SERIAL_VS_LOGJOB = 1.2
BAR_2W_VS_SERIAL = 1.8
BAR_2W_VS_MP2 = 3.0
BAR_RSS_MIB = 100.0
BAR_RSS_GROWTH = 0.10


# ----------------------------------------------------------------------------------- helpers

def sh(argv):
    return " ".join(shlex.quote(a) for a in argv)


def capture(argv, cwd=None):
    try:
        return subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              check=False).stdout.decode("utf-8", "replace").strip()
    except OSError as e:
        return "unavailable (%s)" % e


def loadavg():
    return list(os.getloadavg())


def cpu_ticks():
    """(busy, steal) clock ticks of the whole machine so far, from /proc/stat; None if unknown."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal ...
    return v[0] + v[1] + v[2] + v[5] + v[6], (v[7] if len(v) > 7 else 0)


def median(xs):
    return statistics.median(xs) if xs else None


def run_once(argv, cwd, env, out_path, err_path):
    """fork/exec/wait4 one process; returns a dict with wall, user, sys, maxrss_kib, exit."""
    out_fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    err_fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    null_fd = os.open(os.devnull, os.O_RDONLY)
    sys.stdout.flush()
    sys.stderr.flush()
    ticks0 = cpu_ticks()
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.chdir(cwd)
            os.dup2(null_fd, 0)
            os.dup2(out_fd, 1)
            os.dup2(err_fd, 2)
            os.execvpe(argv[0], argv, env)
        except BaseException as e:  # noqa: BLE001
            os.write(2, ("exec failed: %s\n" % e).encode())
        os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    ticks1 = cpu_ticks()
    for fd in (out_fd, err_fd, null_fd):
        os.close(fd)
    code = os.waitstatus_to_exitcode(status)
    res = {"wall": wall, "user": ru.ru_utime, "sys": ru.ru_stime,
           "maxrss_kib": ru.ru_maxrss, "exit": code}
    if ticks0 and ticks1:
        # While the child ran, this script only waited: the machine's busy time beyond the
        # child's own CPU is other work's, and steal is time the hypervisor gave elsewhere.
        hz = os.sysconf("SC_CLK_TCK")
        res["others_cpu"] = max(0.0, (ticks1[0] - ticks0[0]) / hz - ru.ru_utime - ru.ru_stime)
        res["steal"] = (ticks1[1] - ticks0[1]) / hz
    return res


def read_truth(path):
    with open(path) as f:
        return json.load(f)


def truth_text(peers, truth_path):
    return subprocess.run([sys.executable, os.path.join(peers, "truth_to_text.py"), truth_path],
                          stdout=subprocess.PIPE, check=True).stdout


def check_answer(kind, out_path, expected):
    """Returns (ok, how, detail). kind: 'logpipe' (JSON report) or 'text'."""
    with open(out_path, "rb") as f:
        raw = f.read()
    how = "full"
    if kind == "logpipe":
        try:
            text, has_top, notes = logpipe_to_text.convert(json.loads(raw.decode("utf-8")))
        except (ValueError, KeyError, TypeError) as e:
            return False, how, "cannot read the report: %s: %r" % (e, raw[:300])
        if not has_top:
            how = "partial: no top paths in logpipe's report; lines/matched/unparsed/status compared"
            expected = b"".join(l + b"\n" for l in expected.splitlines() if not l.startswith(b"top "))
    else:
        text = raw
    if text == expected:
        return True, how, ""
    exp_lines, got_lines = expected.splitlines(), text.splitlines()
    diffs = []
    for i in range(max(len(exp_lines), len(got_lines))):
        e = exp_lines[i] if i < len(exp_lines) else b"<none>"
        g = got_lines[i] if i < len(got_lines) else b"<none>"
        if e != g:
            diffs.append("expected %r got %r" % (e, g))
    return False, how, "; ".join(diffs[:5]) + (" ..." if len(diffs) > 5 else "")


def machine_facts():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = round(int(line.split()[1]) / MIB, 1)
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "nproc_available": len(os.sched_getaffinity(0)),
            "cpu_model": cpu, "mem_gib": mem, "kernel": platform.release(),
            "os": capture(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
            "hostname": platform.node()}


def software_facts(logpipe, logjob):
    def dpkg(p):
        return capture(["dpkg-query", "-W", "-f=${Version}", p])
    return {
        "logpipe_version": capture([logpipe, "--version"]),
        "python": "%s (%s)" % (platform.python_version(), sys.executable),
        "mawk": capture(["sh", "-c", "mawk -W version 2>&1 | head -1"]),
        "gxx": capture(["sh", "-c", "g++ --version | head -1"]),
        "re2": dpkg("libre2-9"), "tbb": dpkg("libtbb12"), "pcre2": dpkg("libpcre2-8-0"),
        "logjob": logjob,
    }


def repo_facts(repo, logpipe):
    facts = {"repo": repo,
             "commit": capture(["git", "-C", repo, "rev-parse", "HEAD"]),
             "describe": capture(["git", "-C", repo, "log", "-1", "--format=%h %s"]),
             "dirty_files": [l for l in capture(["git", "-C", repo, "status", "--porcelain"]).splitlines() if l],
             "logpipe_binary": logpipe}
    # Which source tree the binary was built from (it may be another checkout than `repo`).
    cache = os.path.join(os.path.dirname(os.path.abspath(logpipe)), "CMakeCache.txt")
    src = None
    if os.path.exists(cache):
        with open(cache, errors="replace") as f:
            for line in f:
                if line.startswith("CMAKE_HOME_DIRECTORY:"):
                    src = line.split("=", 1)[1].strip()
    facts["binary_source_dir"] = src
    if src and os.path.realpath(src) != os.path.realpath(repo):
        facts["binary_source_commit"] = capture(["git", "-C", src, "rev-parse", "HEAD"])
        facts["binary_source_dirty_files"] = [
            l for l in capture(["git", "-C", src, "status", "--porcelain"]).splitlines() if l]
    try:
        facts["logpipe_binary_mtime"] = datetime.datetime.fromtimestamp(
            os.path.getmtime(logpipe)).isoformat(timespec="seconds")
    except OSError:
        pass
    return facts


# ----------------------------------------------------------------------------------- variants

def logpipe_argv(logpipe, data, model=None, workers=None, extra_sets=(),
                 config="configs/reference_job.yaml"):
    argv = [logpipe, "--config", config, "--quiet",
            "--set", "inputs.0.path=" + data]
    if model:
        argv += ["--set", "stages.parse.exec.model=" + model]
    if workers:
        argv += ["--set", "stages.parse.exec.workers=%d" % workers]
    for s in extra_sets:
        argv += ["--set", s]
    return argv


def probe_model(logpipe, repo, data, model, env):
    argv = logpipe_argv(logpipe, data, model, 2) + ["--dry-run"]
    p = subprocess.run(argv, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return p.returncode == 0, p.stdout.decode("utf-8", "replace").strip()


def reference_variants(a, env):
    """The ordered variant list, and the notes on skipped ones."""
    lp, repo, peers, data = a.logpipe, a.repo, a.peers, a.data
    py = sys.executable
    v = [
        dict(name="logpipe_serial", kind="logpipe", cwd=repo, counterpart=None,
             desc="logpipe, serial (reference_job.yaml)", argv=logpipe_argv(lp, data)),
        dict(name="logpipe_threads2", kind="logpipe", cwd=repo, counterpart="logpipe_serial",
             desc="logpipe, threads, 2 workers", argv=logpipe_argv(lp, data, "threads", 2)),
    ]
    skipped = []
    for model in ("tbb", "processes"):
        ok, msg = probe_model(lp, repo, data, model, env)
        if ok:
            v.append(dict(name="logpipe_%s2" % model, kind="logpipe", cwd=repo,
                          counterpart="logpipe_serial", desc="logpipe, %s, 2 workers" % model,
                          argv=logpipe_argv(lp, data, model, 2)))
        else:
            skipped.append({"name": "logpipe_%s2" % model,
                            "reason": "not accepted by this logpipe (--dry-run probe): " +
                                      msg.splitlines()[-1] if msg else "probe failed"})
    v += [
        dict(name="py_single", kind="text", cwd=peers, counterpart=None,
             desc="Python `re`, single process (py_job.py --mode single)",
             argv=[py, "py_job.py", "--mode", "single", data]),
        dict(name="py_mp2", kind="text", cwd=peers, counterpart="py_single",
             desc="Python multiprocessing.Pool(2) (py_job.py --mode mp)",
             argv=[py, "py_job.py", "--mode", "mp", "--workers", "2", data]),
        dict(name="py_threads2", kind="text", cwd=peers, counterpart="py_single",
             desc="Python ThreadPoolExecutor(2) (py_job.py --mode threads)",
             argv=[py, "py_job.py", "--mode", "threads", "--workers", "2", data]),
    ]
    mawk = shutil.which(a.mawk)
    if mawk:
        v.append(dict(name="awk_mawk", kind="text", cwd=peers, counterpart=None,
                      desc="mawk, C locale (awk_job.awk)",
                      argv=[mawk, "-v", "REFILE=combined.ere", "-f", "awk_job.awk", data]))
    else:
        skipped.append({"name": "awk_mawk", "reason": "mawk is not installed"})
    v.append(dict(name="logjob_3cap", kind="text", cwd=peers, counterpart=None,
                  desc="hand-written C++ RE2, 3 captures, serial, read() (logjob.cc)",
                  argv=[a.logjob, "--exec", "serial", "--io", "read",
                        "--regex", "patterns/combined_min.re", data]))
    # A control, not a competitor: the same hand-written program on oneTBB with 2 workers. It
    # scaled 1.89-1.95x when BASELINES.md was measured; its speedup in this run shows how much
    # two busy vCPUs slow each other today, which no program on this VM can avoid.
    v.append(dict(name="logjob_3cap_tbb2", kind="text", cwd=peers, counterpart="logjob_3cap",
                  desc="the same, oneTBB parallel_for, 2 workers (logjob.cc; control)",
                  argv=[a.logjob, "--exec", "tbb", "--workers", "2", "--io", "read",
                        "--regex", "patterns/combined_min.re", data]))
    if a.only:
        keep = set(a.only.split(","))
        v = [x for x in v if x["name"] in keep]
    return v, skipped


# ----------------------------------------------------------------------------------- running

def run_suite(variants, rounds, warmup, expected, workdir, env, label=""):
    """Runs warm-up and counted rounds in alternation; fills v['runs'], v['status']."""
    os.makedirs(workdir, exist_ok=True)
    load_rounds = []
    for v in variants:
        v.update(runs=[], status="ok", check=None, detail="")
    total = warmup + rounds
    for r in range(total):
        is_warm = r < warmup
        load_rounds.append({"round": r - warmup, "warmup": is_warm, "load": loadavg()})
        for v in variants:
            if v["status"] == "FAILED":
                continue
            out = os.path.join(workdir, v["name"] + ".out")
            err = os.path.join(workdir, v["name"] + ".err")
            res = run_once(v["argv"], v["cwd"], env, out, err)
            res.update(round=r - warmup, warmup=is_warm)
            exp = expected[v["data_key"]] if "data_key" in v else expected[None]
            if res["exit"] != 0:
                with open(err, "rb") as f:
                    msg = f.read()[-500:].decode("utf-8", "replace").strip()
                v["status"], v["detail"] = "FAILED", "exit %d: %s" % (res["exit"], msg)
                res["answer"] = "failed"
            else:
                ok, how, detail = check_answer(v["kind"], out, exp)
                res["answer"] = "ok" if ok else "WRONG"
                v["check"] = how
                if not ok:
                    v["status"], v["detail"] = "WRONG", detail
            v["runs"].append(res)
            tag = "warm-up" if is_warm else "round %d/%d" % (r - warmup + 1, rounds)
            print("  %s%-8s %-18s %7.2f s  cpu %6.2f s  rss %6.1f MiB  %s" % (
                label, tag, v["name"], res["wall"], res["user"] + res["sys"],
                res["maxrss_kib"] / 1024, res["answer"]), flush=True)
    return load_rounds


def other_work(r):
    """CPU used by other work and stolen by the hypervisor during the counted runs (shares of
    nproc x their wall time), or None for results recorded without it."""
    runs = [x for v in r["variants"] for x in v.get("runs", []) if not x.get("warmup")]
    if not runs or any("others_cpu" not in x for x in runs):
        return None
    wall = sum(x["wall"] for x in runs)
    cap = wall * r["machine"]["nproc"]
    cpu = sum(x["others_cpu"] for x in runs)
    steal = sum(x["steal"] for x in runs)
    return {"cpu": cpu, "steal": steal, "wall": wall, "share": cpu / cap if cap else 0.0,
            "steal_share": steal / cap if cap else 0.0}


def summarize(variants, data_bytes, data_lines):
    by = {v["name"]: v for v in variants}

    def counted(v):
        return [r for r in v["runs"] if not r["warmup"] and r["exit"] == 0]

    summ = {}
    for v in variants:
        runs = counted(v)
        if not runs:
            summ[v["name"]] = {"status": v["status"], "n": 0}
            continue
        walls = [r["wall"] for r in runs]
        cpus = [r["user"] + r["sys"] for r in runs]
        med = median(walls)
        summ[v["name"]] = {
            "status": v["status"], "n": len(runs), "wall_median": med,
            "wall_min": min(walls), "wall_max": max(walls), "cpu_median": median(cpus),
            "mb_s": data_bytes / 1e6 / med, "lines_s": data_lines / med,
            "peak_rss_mib": max(r["maxrss_kib"] for r in runs) / 1024,
            "peak_rss_mib_median": median([r["maxrss_kib"] for r in runs]) / 1024,
        }

    def ok(name):
        return name in by and by[name]["status"] == "ok" and summ[name].get("n", 0) > 0

    def paired(base, other):
        """median over rounds of wall(base)/wall(other): > 1 means `other` is faster."""
        if not (ok(base) and ok(other)):
            return None
        b = {r["round"]: r["wall"] for r in counted(by[base])}
        o = {r["round"]: r["wall"] for r in counted(by[other])}
        ratios = [b[k] / o[k] for k in sorted(b) if k in o]
        return {"median": median(ratios), "min": min(ratios), "max": max(ratios),
                "per_round": ratios} if ratios else None

    for v in variants:
        s = summ[v["name"]]
        if not ok(v["name"]):
            continue
        for ref, key in (("logpipe_serial", "x_vs_logpipe_serial"), ("py_single", "x_vs_py_single")):
            if ok(ref):
                s[key] = summ[ref]["wall_median"] / s["wall_median"]
                s[key + "_paired"] = paired(ref, v["name"])
        if v.get("counterpart"):
            s["speedup_vs_counterpart"] = paired(v["counterpart"], v["name"])
            s["counterpart"] = v["counterpart"]
    return summ, paired


def bar_checks(variants, summ, paired, partial_logpipe):
    names = {v["name"] for v in variants}
    bars = []

    def add(what, value, bar, cmp=">=", note=""):
        if value is None:
            bars.append({"bar": what, "value": None, "target": bar, "pass": None,
                         "note": note or "not measured (variant missing, failed or WRONG)"})
            return
        passed = value >= bar if cmp == ">=" else value < bar
        bars.append({"bar": what, "value": value, "target": bar, "cmp": cmp, "pass": passed,
                     "note": note})

    prov = ("provisional: logpipe's report lacks the top-10 paths, so it did less work than "
            "the peers" if partial_logpipe else "")

    def med(p):
        return p["median"] if p else None
    add("logpipe serial >= 2.5x python single (paired wall ratio)",
        med(paired("py_single", "logpipe_serial")), BAR_SERIAL_VS_PY, note=prov)
    add("logpipe serial >= 1.2x logjob 3-capture (paired wall ratio)",
        med(paired("logjob_3cap", "logpipe_serial")), BAR_SERIAL_VS_LOGJOB, note=prov)
    control = med(paired("logjob_3cap", "logjob_3cap_tbb2"))
    scaling = ("the control (hand-written RE2 on oneTBB, 2 workers) scaled %.2fx in this run"
               % control if control else "")
    for m in ("threads2", "tbb2", "processes2"):
        n = "logpipe_" + m
        if n not in names:
            continue
        add("%s >= 1.8x logpipe serial (paired speedup)" % n,
            med(paired("logpipe_serial", n)), BAR_2W_VS_SERIAL, note=scaling)
        add("%s >= 3x python Pool(2) (paired wall ratio)" % n,
            med(paired("py_mp2", n)), BAR_2W_VS_MP2, note=prov)
    for v in variants:
        if v["kind"] == "logpipe":
            s = summ[v["name"]]
            add("%s peak RSS < 100 MiB" % v["name"],
                s.get("peak_rss_mib") if v["status"] == "ok" else None, BAR_RSS_MIB, cmp="<")
    return bars


# ----------------------------------------------------------------------------------- commands

def cmd_run(a):
    env = dict(os.environ, LC_ALL="C")
    env.pop("LANG", None)
    truth = read_truth(a.truth)
    expected = {None: truth_text(a.peers, a.truth)}
    data_bytes = os.path.getsize(a.data)
    if truth.get("bytes") not in (None, data_bytes):
        sys.exit("bench.py: %s has %d bytes but its truth says %s" % (a.data, data_bytes, truth["bytes"]))
    variants, skipped = reference_variants(a, env)
    for s in skipped:
        print("note: skipping %s: %s" % (s["name"], s["reason"]))
    started = datetime.datetime.now()
    load_before = loadavg()
    print("data %s: %d bytes, %d lines; %d warm-up + %d rounds of %d variants; load %s" % (
        a.data, data_bytes, truth["lines"], a.warmup, a.rounds, len(variants),
        " ".join("%.2f" % x for x in load_before)), flush=True)
    load_rounds = run_suite(variants, a.rounds, a.warmup, expected, a.workdir, env)
    load_after = loadavg()
    summ, paired = summarize(variants, data_bytes, truth["lines"])
    partial = any(v["kind"] == "logpipe" and v["check"] and v["check"].startswith("partial")
                  for v in variants)
    bars = bar_checks(variants, summ, paired, partial)
    result = {
        "kind": "reference", "quick": a.quick, "started": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now().isoformat(timespec="seconds"),
        "invocation": a.invocation, "machine": machine_facts(),
        "software": software_facts(a.logpipe, a.logjob), "repo": repo_facts(a.repo, a.logpipe),
        "data": {"path": a.data, "truth": a.truth, "bytes": data_bytes, "lines": truth["lines"],
                 "matched": truth["matched"], "unparsed": truth["unparsed"],
                 "distinct_paths": truth.get("distinct_paths"),
                 "generator": truth.get("generator"), "args": truth.get("args")},
        "method": {"rounds": a.rounds, "warmup": a.warmup, "order": [v["name"] for v in variants],
                   "env": {"LC_ALL": "C"}, "timer": "fork/exec/os.wait4 (wall: perf_counter)"},
        "load": {"before": load_before, "after": load_after, "per_round": load_rounds},
        "skipped": skipped,
        "variants": [{k: v[k] for k in ("name", "kind", "desc", "argv", "cwd", "counterpart",
                                        "status", "check", "detail", "runs")} for v in variants],
        "summary": summ, "bars": bars, "logpipe_check_partial": partial,
    }
    with open(a.json_out, "w") as f:
        json.dump(result, f, indent=1)
    print("wrote %s" % a.json_out)
    mem, chunks = None, None
    if not a.quick:
        mem = latest(os.path.dirname(a.json_out), "memory-*.json")
        chunks = latest(os.path.dirname(a.json_out), "chunks-*.json")
    write_results(a.md_out, render(result, mem, json_path=a.json_out, chunks=chunks))
    print("wrote %s" % a.md_out)
    print(render_table(result))
    print(render_bars(result["bars"]))


# Every execution model, for the memory check and the chunk sweep, as issue 4's memory bar asks
# ("on every model ... shards included": wait4's peak RSS of a run is the largest of its
# process and the shards it reaped).
MEMORY_MODELS = ((None, None), ("threads", 2), ("tbb", 2), ("processes", 2))


def model_name(model):
    """A MEMORY_MODELS model as variant names spell it: serial, threads2, ..."""
    return model + "2" if model else "serial"


def cmd_memory(a):
    env = dict(os.environ, LC_ALL="C")
    env.pop("LANG", None)
    t_small, t_big = read_truth(a.truth), read_truth(a.big_truth)
    expected = {"small": truth_text(a.peers, a.truth), "big": truth_text(a.peers, a.big_truth)}
    variants = []
    jobs = (("", "configs/reference_job.yaml"),
            ("statusonly_", os.path.join(HERE, "status_only_job.yaml")))
    for key, data in (("small", a.data), ("big", a.big)):
        for job, config in jobs:
            for model, workers in MEMORY_MODELS:
                variants.append(dict(
                    name="logpipe_%s%s_%s" % (job, model_name(model), key),
                    kind="logpipe", cwd=a.repo, counterpart=None, data_key=key,
                    desc="logpipe %s, %s, on %s" % (
                        "%s, 2 workers" % model if model else "serial",
                        "status-only job" if job else "reference job", os.path.basename(data)),
                    argv=logpipe_argv(a.logpipe, data, model, workers, config=config)))
    load_before = loadavg()
    started = datetime.datetime.now()
    print("memory check: %s (%d bytes) and %s (%d bytes); %d warm-up + %d rounds; load %s" % (
        a.data, os.path.getsize(a.data), a.big, os.path.getsize(a.big), a.warmup, a.rounds,
        " ".join("%.2f" % x for x in load_before)), flush=True)
    load_rounds = run_suite(variants, a.rounds, a.warmup, expected, a.workdir, env)
    rows = []
    names = [model_name(m) for m, _ in MEMORY_MODELS]
    for job, model in [(j, m) for j in ("", "statusonly_") for m in names]:
        s = next(v for v in variants if v["name"] == "logpipe_%s%s_small" % (job, model))
        b = next(v for v in variants if v["name"] == "logpipe_%s%s_big" % (job, model))
        rs = [r["maxrss_kib"] / 1024 for r in s["runs"] if not r["warmup"] and r["exit"] == 0]
        rb = [r["maxrss_kib"] / 1024 for r in b["runs"] if not r["warmup"] and r["exit"] == 0]
        ws = [r["wall"] for r in s["runs"] if not r["warmup"] and r["exit"] == 0]
        wb = [r["wall"] for r in b["runs"] if not r["warmup"] and r["exit"] == 0]
        ok = s["status"] == "ok" and b["status"] == "ok" and rs and rb
        growth = (max(rb) - max(rs)) / max(rs) if ok else None
        rows.append({"model": model, "job": "status-only" if job else "reference",
                     "small_status": s["status"], "big_status": b["status"],
                     "small_check": s["check"], "big_check": b["check"],
                     "small_rss_mib": max(rs) if rs else None, "big_rss_mib": max(rb) if rb else None,
                     "small_wall": median(ws), "big_wall": median(wb),
                     "growth": growth, "pass": (abs(growth) <= BAR_RSS_GROWTH) if ok else None,
                     "detail": (s["detail"] + " " + b["detail"]).strip()})
    result = {
        "kind": "memory", "started": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now().isoformat(timespec="seconds"),
        "invocation": a.invocation, "machine": machine_facts(),
        "repo": repo_facts(a.repo, a.logpipe),
        "data": {"small": {"path": a.data, "bytes": os.path.getsize(a.data), "lines": t_small["lines"],
                           "distinct_paths": t_small.get("distinct_paths")},
                 "big": {"path": a.big, "bytes": os.path.getsize(a.big), "lines": t_big["lines"],
                         "distinct_paths": t_big.get("distinct_paths")}},
        "method": {"rounds": a.rounds, "warmup": a.warmup, "order": [v["name"] for v in variants]},
        "load": {"before": load_before, "after": loadavg(), "per_round": load_rounds},
        "variants": [{k: v[k] for k in ("name", "desc", "argv", "cwd", "status", "check", "detail", "runs")}
                     for v in variants],
        "rows": rows,
    }
    with open(a.json_out, "w") as f:
        json.dump(result, f, indent=1)
    print("wrote %s" % a.json_out)
    result["_path"] = a.json_out
    ref = latest(os.path.dirname(a.json_out), "reference-*.json")
    if a.md_out:
        if ref:
            chunks = latest(os.path.dirname(a.json_out), "chunks-*.json")
            write_results(a.md_out, render(ref, result, json_path=None, chunks=chunks))
            print("wrote %s" % a.md_out)
        else:
            print("no reference-*.json beside it: %s not rewritten" % a.md_out)
    print(render_memory(result))


def size_bytes(text):
    """A size in config syntax ("512KiB", "4M", "65536") in bytes, for ordering."""
    units = {"": 1, "B": 1, "K": 1 << 10, "KIB": 1 << 10, "M": 1 << 20, "MIB": 1 << 20,
             "G": 1 << 30, "GIB": 1 << 30}
    digits = text.rstrip("BbKkMmGgIi")
    return int(digits) * units[text[len(digits):].upper()]


def default_chunk_bytes(logpipe, repo, env):
    """logpipe's default read.chunk_bytes as --explain prints it ("read: chunks of 1 MiB,"),
    in config syntax ("1MiB")."""
    out = subprocess.run(logpipe_argv(logpipe, "/dev/null") + ["--explain"], cwd=repo, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT).stdout.decode()
    for line in out.splitlines():
        if line.startswith("read: chunks of "):
            return line[len("read: chunks of "):].split(",")[0].replace(" ", "")
    sys.exit("bench.py: no 'read: chunks of' line in logpipe --explain:\n" + out)


def cmd_chunks(a):
    env = dict(os.environ, LC_ALL="C")
    env.pop("LANG", None)
    truth = read_truth(a.truth)
    expected = {None: truth_text(a.peers, a.truth)}
    a.default = default_chunk_bytes(a.logpipe, a.repo, env)
    sizes = a.sizes.split(",")
    if a.default not in sizes:
        sizes.append(a.default)
    sizes.sort(key=size_bytes)
    variants = []
    for size in sizes:
        for model, workers in MEMORY_MODELS:
            variants.append(dict(
                name="logpipe_%s_%s" % (model_name(model), size), kind="logpipe", cwd=a.repo,
                counterpart=None, size=size, model=model_name(model),
                desc="logpipe %s, read.chunk_bytes=%s" % (model_name(model), size),
                argv=logpipe_argv(a.logpipe, a.data, model, workers,
                                  extra_sets=["read.chunk_bytes=" + size])))
    load_before = loadavg()
    started = datetime.datetime.now()
    print("chunk sizes %s on %s; %d warm-up + %d rounds of %d variants; load %s" % (
        ", ".join(sizes), a.data, a.warmup, a.rounds, len(variants),
        " ".join("%.2f" % x for x in load_before)), flush=True)
    load_rounds = run_suite(variants, a.rounds, a.warmup, expected, a.workdir, env)
    summ, paired = summarize(variants, os.path.getsize(a.data), truth["lines"])
    rows = []
    for size in sizes:
        serial = "logpipe_serial_%s" % size
        row = {"size": size, "models": {}}
        for model, _ in MEMORY_MODELS:
            name = "logpipe_%s_%s" % (model_name(model), size)
            x = summ[name]
            row["models"][model_name(model)] = {
                "status": x["status"], "wall_median": x.get("wall_median"),
                "cpu_median": x.get("cpu_median"), "peak_rss_mib": x.get("peak_rss_mib"),
                "vs_serial_same_size": paired(serial, name) if model else None,
                "vs_serial_default": paired("logpipe_serial_" + a.default, name)}
        rows.append(row)
    result = {
        "kind": "chunks", "started": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now().isoformat(timespec="seconds"),
        "invocation": a.invocation, "machine": machine_facts(),
        "repo": repo_facts(a.repo, a.logpipe), "default": a.default,
        "data": {"path": a.data, "bytes": os.path.getsize(a.data), "lines": truth["lines"]},
        "method": {"rounds": a.rounds, "warmup": a.warmup, "order": [v["name"] for v in variants]},
        "load": {"before": load_before, "after": loadavg(), "per_round": load_rounds},
        "variants": [{k: v[k] for k in ("name", "desc", "argv", "cwd", "status", "check", "detail", "runs")}
                     for v in variants],
        "rows": rows,
    }
    result["other_work"] = other_work(result)
    with open(a.json_out, "w") as f:
        json.dump(result, f, indent=1)
    print("wrote %s" % a.json_out)
    result["_path"] = a.json_out
    ref = latest(os.path.dirname(a.json_out), "reference-*.json")
    if a.md_out and ref:
        mem = latest(os.path.dirname(a.json_out), "memory-*.json")
        write_results(a.md_out, render(ref, mem, json_path=None, chunks=result))
        print("wrote %s" % a.md_out)
    print(render_chunks(result))


FETCH_BEGIN = "<!-- fetch-benchmark:begin -->"
FETCH_END = "<!-- fetch-benchmark:end -->"


def write_results(path, text):
    """Writes RESULTS.md, keeping the section bench/fetch/run.sh wrote into it, if any."""
    try:
        with open(path) as f:
            old = f.read()
    except OSError:
        old = ""
    if FETCH_BEGIN in old and FETCH_END in old:
        text = text.rstrip("\n") + "\n\n" + old[old.index(FETCH_BEGIN):old.index(FETCH_END) + len(FETCH_END)] + "\n"
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def latest(directory, pattern):
    files = sorted(glob.glob(os.path.join(directory, pattern)))
    files = [f for f in files if "quick" not in os.path.basename(f)]
    if not files:
        return None
    with open(files[-1]) as f:
        d = json.load(f)
    d["_path"] = files[-1]
    return d


def cmd_report(a):
    ref = latest(a.results_dir, "reference-*.json")
    if not ref:
        sys.exit("bench.py: no reference-*.json in %s" % a.results_dir)
    mem = latest(a.results_dir, "memory-*.json")
    chunks = latest(a.results_dir, "chunks-*.json")
    write_results(a.out, render(ref, mem, json_path=None, chunks=chunks))
    print("wrote %s from %s%s" % (a.out, ref["_path"], " and " + mem["_path"] if mem else ""))


# ----------------------------------------------------------------------------------- markdown

def f2(x, nd=2):
    return "" if x is None else ("%.*f" % (nd, x))


def fx(p):
    if p is None:
        return ""
    return "%.2fx (%.2f-%.2f)" % (p["median"], p["min"], p["max"])


def fnum(x):
    return "" if x is None else "{:,.0f}".format(x)


def render_table(r):
    s = r["summary"]
    out = ["| variant | answer | wall s median (min-max) | CPU s | MB/s | lines/s | peak RSS MiB "
           "| speed vs logpipe serial | speed vs python single | 2-worker speedup (paired, vs) |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for v in r["variants"]:
        x = s[v["name"]]
        ans = v["status"] if v["status"] != "ok" else (
            "ok" if (v["check"] or "").startswith("full") else "ok (partial)")
        if not x.get("n"):
            out.append("| `%s` | %s | | | | | | | | |" % (v["name"], ans))
            continue
        sp = x.get("speedup_vs_counterpart")
        out.append("| `%s` | %s | %s (%s-%s) | %s | %s | %s | %s | %s | %s | %s |" % (
            v["name"], ans, f2(x["wall_median"]), f2(x["wall_min"]), f2(x["wall_max"]),
            f2(x["cpu_median"]), fnum(x["mb_s"]), fnum(x["lines_s"]), f2(x["peak_rss_mib"], 1),
            f2(x.get("x_vs_logpipe_serial")) + ("x" if x.get("x_vs_logpipe_serial") else ""),
            f2(x.get("x_vs_py_single")) + ("x" if x.get("x_vs_py_single") else ""),
            (fx(sp) + " vs `%s`" % x["counterpart"]) if sp else ""))
    return "\n".join(out)


def render_bars(bars):
    out = ["| bar | measured | result | note |", "|---|---|---|---|"]
    for b in bars:
        if b["value"] is None:
            val, res = "", "not checked"
        elif "RSS" in b["bar"]:
            val, res = "%.1f MiB" % b["value"], "PASS" if b["pass"] else "FAIL"
        else:
            val, res = "%.2fx" % b["value"], "PASS" if b["pass"] else "FAIL"
        out.append("| %s | %s | %s | %s |" % (b["bar"], val, res, b.get("note", "")))
    return "\n".join(out)


def render_memory(m):
    ds = m["data"]["small"].get("distinct_paths")
    db = m["data"]["big"].get("distinct_paths")
    out = ["| job | model | %s: peak RSS MiB (wall s) | %s: peak RSS MiB (wall s) | growth | "
           "growth per added distinct path | within 10%% |" % (
               os.path.basename(m["data"]["small"]["path"]), os.path.basename(m["data"]["big"]["path"])),
           "|---|---|---|---|---|---|---|"]
    for row in m["rows"]:
        res = {True: "PASS", False: "FAIL", None: "not checked (%s/%s)" % (
            row["small_status"], row["big_status"])}[row["pass"]]
        # The reference job keeps every distinct path (exact top): its growth over the added
        # paths is the aggregate state's cost per key. The status-only job keeps none.
        per_key = ""
        if row.get("job", "reference") == "reference" and row["growth"] is not None and ds and db and db > ds:
            per_key = "%.0f B" % ((row["big_rss_mib"] - row["small_rss_mib"]) * 2**20 / (db - ds))
        out.append("| %s | logpipe %s | %s (%s) | %s (%s) | %s | %s | %s |" % (
            row.get("job", "reference"), row["model"], f2(row["small_rss_mib"], 1), f2(row["small_wall"]),
            f2(row["big_rss_mib"], 1), f2(row["big_wall"]),
            "" if row["growth"] is None else "%+.1f%%" % (100 * row["growth"]), per_key, res))
    return "\n".join(out)


def render_chunks(c):
    models = [model_name(m) for m, _ in MEMORY_MODELS]
    out = ["| read.chunk_bytes | " + " | ".join("%s: wall s (CPU s)%s" % (
               m, "" if m == "serial" else ", speedup vs serial (same size)") for m in models) +
           " | peak RSS MiB (largest) |",
           "|---|" + "---|" * len(models) + "---|"]
    for row in c["rows"]:
        cells = []
        for m in models:
            x = row["models"][m]
            if x["wall_median"] is None:
                cells.append(x["status"])
                continue
            cell = "%s (%s)" % (f2(x["wall_median"], 3), f2(x["cpu_median"], 3))
            if x["vs_serial_same_size"]:
                cell += ", " + fx(x["vs_serial_same_size"])
            if x["vs_serial_default"] and row["size"] != c["default"]:
                cell += "; %.2fx vs serial at %s" % (x["vs_serial_default"]["median"], c["default"])
            cells.append(cell)
        rss = [row["models"][m]["peak_rss_mib"] for m in models if row["models"][m]["peak_rss_mib"]]
        size = ("**%s** (default)" % row["size"]) if row["size"] == c["default"] else row["size"]
        out.append("| %s | %s | %s |" % (size, " | ".join(cells), f2(max(rss), 1) if rss else ""))
    return "\n".join(out)


def shown_path(path):
    """`path` relative to the repository when inside it, else absolute."""
    if not path:
        return ""
    root = os.path.realpath(os.path.join(HERE, "..", ".."))
    full = os.path.realpath(path)
    return os.path.relpath(full, root) if full.startswith(root + os.sep) else full


def render(r, mem, json_path, chunks=None):
    m, sw, d, rp = r["machine"], r["software"], r["data"], r["repo"]
    L = []
    w = L.append
    w("# logpipe benchmarks: the reference job side by side with its peers\n")
    w("Generated by `bench/reference/run.sh%s` on %s (finished %s). Raw runs: `%s`.%s\n" % (
        " --quick" if r.get("quick") else "", r["started"], r["finished"],
        shown_path(json_path or r.get("_path", "")),
        " **Quick mode: 100 MiB, 1 round; for trying the script, not for quoting.**"
        if r.get("quick") else ""))
    others = other_work(r)
    loads = [x["load"][0] for x in r["load"]["per_round"]] + [r["load"]["before"][0],
                                                                 r["load"]["after"][0]]
    if others is not None:
        if others["share"] > 0.10 or others["steal_share"] > 0.05:
            w("> **Busy machine.** During the counted runs, other work used %.0f%% of the %d "
              "vCPUs and the hypervisor took %.0f%% (steal; see Setup), so times are inflated and "
              "2-worker speedups understated. Rerun on a quiet machine before quoting these "
              "numbers.\n" % (100 * others["share"], m["nproc"], 100 * others["steal_share"]))
    elif max(loads) > m["nproc"] * 0.75:
        w("> **Busy machine.** The 1-minute load average reached %.1f on %d vCPUs during this run "
          "(see Setup): other work competed for the cores, so times are inflated and 2-worker "
          "speedups understated. Rerun on a quiet machine before quoting these numbers.\n" % (
              max(loads), m["nproc"]))
    if r.get("logpipe_check_partial"):
        w("> **Caveat.** This logpipe allows one aggregate stage per job, so `configs/reference_job.yaml` "
          "computes the per-status count and bytes but **not the top-10 paths** that every peer "
          "computes. logpipe's answers were checked on lines/matched/unparsed/status only, and its "
          "times are for a smaller job than the peers'. Rerun when the job has both tables.\n")
    w("## Setup\n")
    w("- **Machine:** %s vCPUs (%s available to the run), %s, %s GiB RAM, kernel %s, %s. Shared "
      "with builds and other sessions: see the load averages below." % (
          m["nproc"], m["nproc_available"], m["cpu_model"], m["mem_gib"], m["kernel"], m["os"]))
    w("- **logpipe:** `%s` (%s), built from %s at commit `%s`%s." % (
        rp["logpipe_binary"], sw["logpipe_version"], rp.get("binary_source_dir") or "?",
        rp.get("binary_source_commit") or rp["commit"],
        (" (that tree had local changes: %s)" % ", ".join(
            "`%s`" % x.strip() for x in (rp.get("binary_source_dirty_files") or [])))
        if rp.get("binary_source_dirty_files") else ""))
    w("- **Repository:** `%s` at `%s` (%s)%s." % (
        rp["repo"], rp["commit"], rp["describe"],
        "; uncommitted changes in the working tree: %s" % ", ".join(
            "`%s`" % x.strip() for x in rp["dirty_files"]) if rp["dirty_files"] else ""))
    w("- **Software:** Python %s; %s; %s; RE2 %s; oneTBB %s; PCRE2 %s." % (
        sw["python"], sw["mawk"], sw["gxx"], sw["re2"], sw["tbb"], sw["pcre2"]))
    w("- **Data:** `%s`, %s bytes (%.1f MB), %s lines, %s matched, %s unparsed, %s distinct paths; "
      "written by `%s` with %s; answers checked against `%s`." % (
          d["path"], fnum(d["bytes"]), d["bytes"] / 1e6, fnum(d["lines"]), fnum(d["matched"]),
          fnum(d["unparsed"]), fnum(d.get("distinct_paths")), d.get("generator"),
          ", ".join("%s=%s" % (k, (d.get("args") or {}).get(k)) for k in ("size", "seed")),
          d["truth"]))
    me = r["method"]
    w("- **Method:** each variant is a whole process (start-up included), started with fork/exec "
      "and reaped with `os.wait4`: wall time around it, user+sys CPU and peak RSS (`ru_maxrss`, "
      "the largest single process of the child's tree) from the kernel's accounting. %d warm-up "
      "round, then %d rounds in alternation (%s), file in the page cache, `LC_ALL=C`. Every run's "
      "output is converted to the peers' common text (`logpipe_to_text.py` for logpipe's JSON) "
      "and compared with `truth_to_text.py` of the generator's truth; a WRONG answer is left out "
      "of every ratio. Medians with min-max; MB = 10^6 bytes of input; lines/s counts every "
      "input line. \"speed vs X\" = median wall of X / median wall of the variant (> 1: faster "
      "than X). Paired ratios: per round, wall of the baseline / wall of the variant, then the "
      "median over rounds (min-max in brackets); the bar checks use these." % (
          me["warmup"], me["rounds"], " ".join(me["order"])))
    lr = r["load"]
    w("- **Load average** (1/5/15 min, which counts the benchmark's own processes too): before "
      "%s, after %s; at the start of each round: %s.%s\n" % (
          " ".join("%.2f" % x for x in lr["before"]), " ".join("%.2f" % x for x in lr["after"]),
          ", ".join(("warm-up %.2f" % x["load"][0]) if x["warmup"] else
                    ("round %d %.2f" % (x["round"] + 1, x["load"][0])) for x in lr["per_round"]),
          "" if others is None else
          "\n- **Other work** during the counted runs (`/proc/stat` busy time minus each run's own "
          "CPU, while the script only waited): %.1f CPU s over %.1f s of runs, %.1f%% of the "
          "machine; steal %.1f s (%.1f%%)." % (
              others["cpu"], others["wall"], 100 * others["share"], others["steal"],
              100 * others["steal_share"])))
    if r.get("skipped"):
        w("Skipped: " + "; ".join("`%s`: %s" % (s["name"], s["reason"]) for s in r["skipped"]) + "\n")
    w("## Results (medians)\n")
    w(render_table(r) + "\n")
    wrong = [v for v in r["variants"] if v["status"] != "ok"]
    for v in wrong:
        w("- `%s` is **%s**: %s" % (v["name"], v["status"], v["detail"]))
    if wrong:
        w("")
    w("## Bar checks (issue: execution models)\n")
    w(render_bars(r["bars"]) + "\n")
    if mem:
        w("## Memory: peak RSS on a 1 GiB and a 4 GiB file\n")
        w("`run.sh --memory` (%s; %d warm-up + %d rounds; load before %s, after %s; raw runs `%s`):\n" % (
            mem["started"], mem["method"]["warmup"], mem["method"]["rounds"],
            " ".join("%.2f" % x for x in mem["load"]["before"]),
            " ".join("%.2f" % x for x in mem["load"]["after"]), shown_path(mem.get("_path", ""))))
        w(render_memory(mem) + "\n")
        ds, db = mem["data"]["small"], mem["data"]["big"]
        w("The issue bounds peak RSS by *chunks in flight x chunk size plus aggregate state*, "
          "whatever the input size. The status-only rows (`bench/reference/status_only_job.yaml`, "
          "the reference job without its top_paths aggregate, so with a state of 22 groups) "
          "measure the first term, the executor's own memory, which must not grow with the "
          "input. The reference rows add the second term: the files have %s and %s distinct "
          "paths, and an exact `top(path, 10)` keeps every one of them (once per worker: the "
          "workers' tables are not merged, Finish finds the top 10 across them; with processes, "
          "in the parent as it decodes the shards' partials), so they "
          "grow by the cost of a key times the paths added; no exact top-k can do otherwise. "
          "Their 10%% check is shown for completeness.\n" % (
              fnum(ds.get("distinct_paths")), fnum(db.get("distinct_paths"))))
        checks = sorted({(v.get("check") or "") for v in mem["variants"]})
        w("Answers checked against each file's truth (%s).\n" % "; ".join(c for c in checks if c))
    if chunks:
        ow = chunks.get("other_work")
        w("## Chunk size: what the default is chosen by\n")
        w("`run.sh --chunk-sweep` (%s; %d warm-up + %d rounds in alternation; other work %s; raw "
          "runs `%s`): the reference job on `%s` at each `read.chunk_bytes`, every model. "
          "Medians; speedups are paired (per round, then the median, min-max in brackets). "
          "Smaller chunks stay in the cache of the core that reads and parses them, and the "
          "chunks in flight of a parallel run (2 x workers) leave the shared cache to the "
          "aggregate tables; much smaller ones cost more in per-chunk handoffs.\n" % (
              chunks["started"], chunks["method"]["warmup"], chunks["method"]["rounds"],
              "%.1f%% of the machine" % (100 * ow["share"]) if ow else "not measured",
              shown_path(chunks.get("_path", "")), os.path.basename(chunks["data"]["path"])))
        w(render_chunks(chunks) + "\n")
    w("## Commands\n")
    w("Run from the directory shown (cwd), with `LC_ALL=C`:\n")
    w("```")
    for v in r["variants"]:
        w("# %s (cwd %s)" % (v["name"], v["cwd"]))
        w(sh(v["argv"]))
    w("```\n")
    w("Invocation: `%s`\n" % r["invocation"])
    return "\n".join(L) + "\n"


# ----------------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("run", "memory", "chunks"):
        p = sub.add_parser(name)
        p.add_argument("--logpipe", required=True)
        p.add_argument("--repo", required=True)
        p.add_argument("--peers", required=True)
        p.add_argument("--data", required=True)
        p.add_argument("--truth")
        p.add_argument("--rounds", type=int, default=3)
        p.add_argument("--warmup", type=int, default=1)
        p.add_argument("--workdir", required=True, help="where each run's stdout/stderr go")
        p.add_argument("--json-out", required=True)
        p.add_argument("--md-out")
        p.add_argument("--invocation", default="")
        if name == "run":
            p.add_argument("--logjob", required=True)
            p.add_argument("--mawk", default="mawk")
            p.add_argument("--quick", action="store_true")
            p.add_argument("--only", help="comma-separated variant names (for trying)")
        elif name == "memory":
            p.add_argument("--big", required=True)
            p.add_argument("--big-truth")
        else:
            p.add_argument("--sizes", default="256KiB,512KiB,1MiB,2MiB,4MiB",
                           help="read.chunk_bytes values (logpipe's default is added if missing)")
    p = sub.add_parser("report")
    p.add_argument("--results-dir", required=True)
    p.add_argument("--out", required=True)
    a = ap.parse_args()
    if a.cmd == "report":
        return cmd_report(a)
    a.truth = a.truth or a.data + ".truth.json"
    a.logpipe = os.path.abspath(a.logpipe)
    a.data = os.path.abspath(a.data)
    if a.cmd == "run":
        a.logjob = os.path.abspath(a.logjob)
        return cmd_run(a)
    if a.cmd == "chunks":
        return cmd_chunks(a)
    a.big = os.path.abspath(a.big)
    a.big_truth = a.big_truth or a.big + ".truth.json"
    return cmd_memory(a)


if __name__ == "__main__":
    main()
