#!/usr/bin/env python3
"""Prints a logpipe JSON report of the reference job in the peers' common result text
(shared/peers/README.md), so logpipe's answer compares with `diff` against
`python3 shared/peers/truth_to_text.py FILE.truth.json` and every peer program:

    lines N / matched N / unparsed N / status CODE COUNT BYTES (ascending) / top RANK COUNT PATH

    python3 logpipe_to_text.py REPORT.json        (or - for stdin)

Report shapes understood:
  * one aggregate (logpipe 0.1.0): {"totals": {...}, "columns": [...], "rows": [...]}
  * several aggregates: {"totals": {...}, "tables": {NAME: {"columns": [...], "rows": [...]}}}
Rows are objects keyed by column (lists aligned with "columns" are accepted too).

Which table is which is found from the columns, not from names:
  * the status table has a "status" column, a count column (hits, count, requests, n) and a
    byte-sum column (bytes, sum_bytes, bytes_sum);
  * the top paths are either a top cell (a list of {"value", "count"}) in a table without a
    "status" column, or a table with a "path" column and a count column (the 10 largest
    counts are taken, ties by path bytewise ascending).
If the report has no top paths (logpipe 0.1.0 allows one aggregate per job), no `top` lines are
printed and a note goes to stderr; exit code 0 either way. Use `--require-top` to make that an
error (exit 3).

Strings: logpipe writes bytes that are not valid UTF-8 as the text \\xNN; they are turned back
into the raw byte here, so paths compare bytewise with the truth (an input that literally
contains backslash-x-hex-hex reads the same, as the logpipe README says).
"""
import json
import re
import sys

COUNT_COLUMNS = ("hits", "count", "requests", "n")
BYTES_COLUMNS = ("bytes", "sum_bytes", "bytes_sum", "sum(bytes)")
_ESCAPED_BYTE = re.compile(rb"\\x([0-9A-Fa-f]{2})")


def raw_bytes(text):
    """A logpipe JSON string back to the bytes it stands for."""
    return _ESCAPED_BYTE.sub(lambda m: bytes([int(m.group(1), 16)]), text.encode("utf-8"))


def _tables(report):
    """[(name, columns, rows as dicts)] in report order."""
    out = []
    if isinstance(report.get("tables"), dict):
        items = list(report["tables"].items())
    elif "columns" in report:
        items = [("aggregate", {"columns": report["columns"], "rows": report.get("rows", [])})]
    else:
        items = []
    for name, t in items:
        cols = list(t.get("columns", []))
        rows = []
        for r in t.get("rows", []):
            rows.append(dict(zip(cols, r)) if isinstance(r, list) else dict(r))
        out.append((name, cols, rows))
    return out


def _first(cols, candidates):
    for c in candidates:
        if c in cols:
            return c
    return None


def _is_top_cell(v):
    return isinstance(v, list) and all(isinstance(e, dict) and "value" in e and "count" in e
                                       for e in v)


def convert(report):
    """Returns (text bytes, has_top: bool, notes: [str])."""
    notes = []
    totals = report.get("totals", {})
    lines = [b"lines %d" % totals["lines"], b"matched %d" % totals["matched"],
             b"unparsed %d" % totals["unparsed"]]
    tables = _tables(report)

    status_rows = None
    for name, cols, rows in tables:
        cnt, byt = _first(cols, COUNT_COLUMNS), _first(cols, BYTES_COLUMNS)
        if "status" in cols and cnt and byt:
            status_rows = [(r["status"], r[cnt], r[byt]) for r in rows]
            break
    if status_rows is None:
        notes.append("no per-status table (status, count, bytes columns) in the report")
    else:
        for status, cnt, byt in sorted(status_rows, key=lambda x: (x[0] is None, x[0] or 0)):
            if status is None:  # lines whose status did not convert: not part of the job's text
                notes.append("a status row with a null status (%d rows)" % cnt)
                continue
            lines.append(b"status %03d %d %d" % (int(status), cnt, byt or 0))

    top = None
    for name, cols, rows in tables:
        if "status" in cols:
            continue
        for r in rows:
            for c in cols:
                if _is_top_cell(r.get(c)):
                    top = [(e["count"], raw_bytes(e["value"])) for e in r[c]]
                    break
            if top is not None:
                break
        if top is None and "path" in cols:
            cnt = _first(cols, COUNT_COLUMNS)
            if cnt:
                pairs = [(r[cnt], raw_bytes(r["path"])) for r in rows if r["path"] is not None]
                top = sorted(pairs, key=lambda p: (-p[0], p[1]))[:10]
        if top is not None:
            break
    if top is None:
        notes.append("no top paths in the report (one aggregate per job in this logpipe): "
                     "only lines/matched/unparsed/status can be compared")
    else:
        for i, (count, path) in enumerate(top, 1):
            lines.append(b"top %d %d %s" % (i, count, path))
    return b"".join(l + b"\n" for l in lines), top is not None, notes


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    src = sys.stdin.buffer if args[0] == "-" else open(args[0], "rb")
    with src:
        report = json.loads(src.read().decode("utf-8"))
    text, has_top, notes = convert(report)
    sys.stdout.buffer.write(text)
    for n in notes:
        print("logpipe_to_text: " + n, file=sys.stderr)
    if "--require-top" in argv and not has_top:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
