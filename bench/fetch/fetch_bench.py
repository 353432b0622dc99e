#!/usr/bin/env python3
"""The latency-hiding benchmark of the fetch stage (issue 5), for bench/fetch/run.sh (stdlib only).

    fetch_bench.py --logpipe BIN --gen BIN --repo DIR --peers DIR --data-dir DIR
                   [--files 100] [--size 1M] [--latency-ms 100] [--rounds 3] [--only a,b]
                   [--json-out FILE] [--results-md FILE]

N files of access-log data (logpipe-gen, one seed each) are served by the peers'
slow_http_server.py on 127.0.0.1 with a fixed latency before each response. The reference job
runs over the N URLs: logpipe with fetch serial, threads(16), async(16) and async(64), and the
peers' py_fetch.py with threads(16), asyncio(16) and asyncio(64). Each variant is a whole
process timed with fork/exec/wait4 (bench/reference/bench.py's run_once): one warm-up round,
then rounds in alternation. Every answer is checked against py_job.py --mode single on the
files concatenated (computed once, not by logpipe).

Bars: threads and async >= 10x logpipe serial; async(64) within 1.5x of (one transfer's time +
the CPU time logpipe needs to parse the N files locally); logpipe >= the best Python peer.
Writes the raw runs as JSON and replaces the fetch section of bench/RESULTS.md.
"""
import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
import bench  # noqa: E402  (run_once, run_suite, check_answer, machine_facts, sh, loadavg)

BAR_PARALLEL_VS_SERIAL = 10.0
BAR_ASYNC64_VS_FLOOR = 1.5
BEGIN = "<!-- fetch-benchmark:begin -->"
END = "<!-- fetch-benchmark:end -->"


def make_data(gen, data_dir, files, size):
    """Writes part-000.log ... and all.log (their concatenation); reuses them when present."""
    d = os.path.join(data_dir, "fetch-%dx%s" % (files, size))
    os.makedirs(os.path.join(d, "files"), exist_ok=True)
    parts = []
    for i in range(files):
        p = os.path.join(d, "files", "part-%03d.log" % i)
        if not os.path.exists(p):
            subprocess.run([gen, "--size", size, "--seed", str(1000 + i), "--truth", "none",
                            "-o", p], check=True, stdout=subprocess.DEVNULL)
        parts.append(p)
    concat = os.path.join(d, "all.log")
    total = sum(os.path.getsize(p) for p in parts)
    if not os.path.exists(concat) or os.path.getsize(concat) != total:
        with open(concat, "wb") as out:
            for p in parts:
                with open(p, "rb") as f:
                    out.write(f.read())
    return d, parts, concat, total


def expected_text(peers, concat, d):
    """The answer, from the peers' single-process Python job on the concatenated files."""
    cached = os.path.join(d, "expected.txt")
    if os.path.exists(cached) and os.path.getmtime(cached) >= os.path.getmtime(concat):
        with open(cached, "rb") as f:
            return f.read()
    env = dict(os.environ, LC_ALL="C")
    out = subprocess.run([sys.executable, os.path.join(peers, "py_job.py"), "--mode", "single",
                          concat], stdout=subprocess.PIPE, check=True, env=env).stdout
    with open(cached, "wb") as f:
        f.write(out)
    return out


def start_server(peers, files_dir, latency_ms):
    proc = subprocess.Popen([sys.executable, os.path.join(peers, "slow_http_server.py"),
                             "--dir", files_dir, "--latency-ms", str(latency_ms)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = proc.stdout.readline().decode()
    m = re.match(r"PORT (\d+)", line)
    if not m:
        proc.kill()
        raise SystemExit("fetch_bench: the server did not start: %r" % line)
    return proc, int(m.group(1))


def one_transfer_seconds(url, times=5):
    """Median time of one GET of one file, latency included (what each transfer costs)."""
    xs = []
    for _ in range(times):
        t0 = time.perf_counter()
        with urllib.request.urlopen(url) as r:
            r.read()
        xs.append(time.perf_counter() - t0)
    return statistics.median(xs)


def download_only_seconds(urls_file, parallel, times=3):
    """Median wall time of curl downloading every URL, `parallel` at once, to /dev/null: what
    the server and the network allow without any parsing (None when curl is not installed)."""
    curl = shutil.which("curl")
    if not curl:
        return None
    with open(urls_file) as f:
        urls = [u.strip() for u in f if u.strip()]
    argv = [curl, "-s", "--fail", "--parallel", "--parallel-max", str(parallel)]
    for u in urls:
        argv += ["-o", os.devnull, u]
    xs = []
    for _ in range(times):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        xs.append(time.perf_counter() - t0)
    return statistics.median(xs)


def local_parse_cpu(logpipe, repo, concat, env, workdir, times=3):
    """CPU seconds (user+sys, min of runs) logpipe serial needs for the job on the local files."""
    job = os.path.join(repo, "configs", "reference_job.yaml")
    best = None
    for _ in range(times):
        r = bench.run_once([logpipe, "--config", job, "--quiet", "--set", "inputs.0.path=" + concat],
                           repo, env, os.path.join(workdir, "local.out"),
                           os.path.join(workdir, "local.err"))
        if r["exit"] != 0:
            raise SystemExit("fetch_bench: logpipe failed on the local files")
        cpu = r["user"] + r["sys"]
        best = cpu if best is None else min(best, cpu)
    return best


def variants(a, urls):
    job = os.path.join(HERE, "fetch_job.yaml")
    regex = os.path.join(a.peers, "combined.re")

    def lp(name, model, workers):
        return {"name": name, "kind": "logpipe", "cwd": a.repo, "group": "logpipe",
                "model": model, "workers": workers,
                "argv": [a.logpipe, "--config", job, "--quiet", "--set", "inputs.0.urls_from=" + urls,
                         "--set", "stages.fetch.exec.model=" + model,
                         "--set", "stages.fetch.exec.workers=%d" % workers]}

    def py(name, mode, workers):
        return {"name": name, "kind": "text", "cwd": a.peers, "group": "python",
                "model": mode, "workers": workers,
                "argv": [sys.executable, os.path.join(a.peers, "py_fetch.py"), "--mode", mode,
                         "--workers", str(workers), "--regex-file", regex, urls]}

    vs = [lp("logpipe_serial", "serial", 1), lp("logpipe_threads16", "threads", 16),
          lp("logpipe_async16", "async", 16), lp("logpipe_async64", "async", 64),
          py("py_threads16", "threads", 16), py("py_asyncio16", "asyncio", 16),
          py("py_asyncio64", "asyncio", 64)]
    if a.only:
        keep = set(a.only.split(","))
        vs = [v for v in vs if v["name"] in keep]
    return vs


def summarize(vs, total_bytes):
    out = {}
    for v in vs:
        runs = [r for r in v["runs"] if not r["warmup"]]
        walls = [r["wall"] for r in runs]
        if not walls or v["status"] != "ok":
            out[v["name"]] = {"status": v["status"], "detail": v["detail"]}
            continue
        med = statistics.median(walls)
        out[v["name"]] = {
            "status": "ok", "wall_median": med, "wall_min": min(walls), "wall_max": max(walls),
            "cpu_median": statistics.median(r["user"] + r["sys"] for r in runs),
            "rss_mib_max": max(r["maxrss_kib"] for r in runs) / 1024,
            "mb_per_s": total_bytes / 1e6 / med}
    return out


def bars(summary, floor):
    res = []

    def med(name):
        s = summary.get(name) or {}
        return s.get("wall_median") if s.get("status") == "ok" else None

    def add(what, value, bar, cmp, note=""):
        ok = None if value is None else (value >= bar if cmp == ">=" else value <= bar)
        res.append({"what": what, "value": value, "bar": bar, "cmp": cmp, "pass": ok, "note": note})

    serial = med("logpipe_serial")
    for name in ("logpipe_threads16", "logpipe_async16", "logpipe_async64"):
        m = med(name)
        add("%s vs logpipe_serial (speed)" % name, serial / m if serial and m else None,
            BAR_PARALLEL_VS_SERIAL, ">=")
    a64 = med("logpipe_async64")
    add("logpipe_async64 wall / (one transfer + local parse CPU)", a64 / floor if a64 else None,
        BAR_ASYNC64_VS_FLOOR, "<=", "floor %.3f s" % floor)
    py_best = min((med(n) for n in summary if n.startswith("py_") and med(n)), default=None)
    lp_best = min((med(n) for n in summary if n.startswith("logpipe_") and n != "logpipe_serial"
                   and med(n)), default=None)
    add("best logpipe vs best Python peer (speed)", py_best / lp_best if py_best and lp_best else None,
        1.0, ">=")
    return res


def render(r):
    L = []
    w = L.append
    w(BEGIN)
    w("## Fetch: hiding network latency (issue 5)\n")
    w("Generated by `bench/fetch/run.sh` on %s. %d files of %s of access-log data "
      "(`logpipe-gen --size %s`, seeds 1000..%d, %.1f MB in all) served by the peers' "
      "`slow_http_server.py` on 127.0.0.1 with %d ms of latency before each response; the "
      "reference job over the %d URLs. Each variant is one whole process, %d warm-up + %d rounds "
      "in alternation; every answer checked against `py_job.py --mode single` on the files "
      "concatenated. Load average before %s, after %s. Raw runs: `%s`.\n" % (
          r["started"], r["files"], r["size"], r["size"], 999 + r["files"], r["bytes"] / 1e6,
          r["latency_ms"], r["files"], r["warmup"], r["rounds"],
          " ".join("%.2f" % x for x in r["load_before"]), " ".join("%.2f" % x for x in r["load_after"]),
          r["json_path"]))
    w("One transfer (median of 5 GETs of one file): %.3f s. logpipe serial's CPU time for the job "
      "on the same files read locally: %.3f s. Their sum, %.3f s, is the floor no fetch model can "
      "beat.%s\n" % (r["one_transfer_s"], r["local_parse_cpu_s"], r["floor_s"],
                   (" For scale, `curl --parallel --parallel-max 64` downloading the %d URLs to "
                    "/dev/null, no parsing, took %.3f s (median of 3) on the same server." % (r["files"], r["download_only_curl64_s"]))
                   if r.get("download_only_curl64_s") else ""))
    w("| variant | wall median (min-max) | CPU | peak RSS | MB/s | speed vs logpipe serial |")
    w("|---|---|---|---|---|---|")
    base = (r["summary"].get("logpipe_serial") or {}).get("wall_median")
    for v in r["variants"]:
        s = r["summary"][v["name"]]
        if s["status"] != "ok":
            w("| `%s` | **%s** | | | | |" % (v["name"], s["status"]))
            continue
        w("| `%s` | %.3f s (%.3f-%.3f) | %.2f s | %.1f MiB | %.0f | %s |" % (
            v["name"], s["wall_median"], s["wall_min"], s["wall_max"], s["cpu_median"],
            s["rss_mib_max"], s["mb_per_s"], "%.1fx" % (base / s["wall_median"]) if base else "-"))
    w("")
    w("| bar | measured | bar | |")
    w("|---|---|---|---|")
    for b in r["bars"]:
        val = "-" if b["value"] is None else "%.2f" % b["value"]
        w("| %s | %s | %s %.1f | %s |" % (b["what"], val, b["cmp"], b["bar"],
                                          "PASS" if b["pass"] else ("n/a" if b["pass"] is None else "FAIL")))
    w("")
    w("Commands (`URLS` is the list of the %d URLs):\n" % r["files"])
    w("```")
    for v in r["variants"]:
        w(bench.sh(v["argv"]))
    w("```")
    w(END)
    return "\n".join(L) + "\n"


def update_results(path, section):
    text = ""
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + section.rstrip("\n") + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--logpipe", required=True)
    ap.add_argument("--gen", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--peers", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument("--size", default="1M")
    ap.add_argument("--latency-ms", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--only", default="")
    ap.add_argument("--json-out", default="")
    ap.add_argument("--results-md", default="")
    a = ap.parse_args()

    env = dict(os.environ, LC_ALL="C")
    started = datetime.datetime.now().isoformat(timespec="seconds")
    print("fetch_bench: data", flush=True)
    d, parts, concat, total = make_data(a.gen, a.data_dir, a.files, a.size)
    expected = expected_text(a.peers, concat, d)
    workdir = os.path.join(d, "runs")
    os.makedirs(workdir, exist_ok=True)
    cpu = local_parse_cpu(a.logpipe, a.repo, concat, env, workdir)
    server, port = start_server(a.peers, os.path.join(d, "files"), a.latency_ms)
    try:
        urls = os.path.join(d, "urls.txt")
        with open(urls, "w") as f:
            for p in parts:
                f.write("http://127.0.0.1:%d/%s\n" % (port, os.path.basename(p)))
        one = one_transfer_seconds("http://127.0.0.1:%d/%s" % (port, os.path.basename(parts[0])))
        floor = one + cpu
        curl64 = download_only_seconds(urls, 64)
        print("fetch_bench: one transfer %.3f s, local parse CPU %.3f s" % (one, cpu), flush=True)
        vs = variants(a, urls)
        load_before = bench.loadavg()
        bench.run_suite(vs, a.rounds, a.warmup, {None: expected}, workdir, env)
        load_after = bench.loadavg()
    finally:
        server.kill()
        server.wait()
    summary = summarize(vs, total)
    result = {
        "started": started, "files": a.files, "size": a.size, "bytes": total,
        "latency_ms": a.latency_ms, "rounds": a.rounds, "warmup": a.warmup,
        "machine": bench.machine_facts(), "load_before": load_before, "load_after": load_after,
        "one_transfer_s": one, "local_parse_cpu_s": cpu, "floor_s": floor,
        "download_only_curl64_s": curl64,
        "variants": [{k: v[k] for k in ("name", "argv", "cwd", "status", "detail", "runs")} for v in vs],
        "summary": summary, "bars": bars(summary, floor),
        "commit": bench.capture(["git", "-C", a.repo, "rev-parse", "HEAD"]),
        "json_path": os.path.relpath(a.json_out, a.repo) if a.json_out else "(not kept)",
    }
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(result, f, indent=1)
    section = render(result)
    print(section)
    if a.results_md:
        update_results(a.results_md, section)
    bad = [v["name"] for v in vs if v["status"] != "ok"]
    if bad:
        print("fetch_bench: WRONG or FAILED: %s" % ", ".join(bad), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
