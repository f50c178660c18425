"""Turn the listing benchmarks' pytest-benchmark JSON into Markdown tables.

One table per layout x latency profile: keys/s, LIST requests (counted by the
server), requests / minimum (minimum = ceil(N / 1000)), peak RSS of the
lister's process, speed-up over boto3 and fraction of the oracle's speed.
Then the du runs, with the 300 MiB peak-RSS budget.

Usage: report_listing.py RESULTS.json OUTPUT.md
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from report import _go_version

ORDER = ["boto3", "s5cmd", "obstore", "s3turbo-serial", "s3turbo-parallel", "s3turbo-oracle-split", "s3turbo-du",
         "oracle"]
LAYOUT_ORDER = ["hex", "date", "deep", "skewed"]
DESCRIBE = {
    "hex": "flat, 32 hex characters",
    "date": "year=/month=/day= partitions over 3 years, uneven days",
    "deep": "6 levels, fanout 2..20 per directory",
    "skewed": "90% under hot/, the rest in 50 small prefixes + top-level files",
}


def _mib(b: float) -> str:
    return f"{b / 2**20:.0f}"


def _rate(v: float) -> str:
    return f"{v:,.0f}"


def _key(e: dict[str, Any]) -> tuple[int, int, int]:
    lay = LAYOUT_ORDER.index(e["layout"]) if e["layout"] in LAYOUT_ORDER else 99
    return (lay, e.get("latency_ms", 0), ORDER.index(e["lister"]) if e["lister"] in ORDER else 99)


def _table(rows: list[dict[str, Any]], du: bool = False) -> list[str]:
    by = {e["lister"]: e for e in rows}
    boto, oracle = by.get("boto3"), by.get("oracle")
    head = "| lister | keys/s | seconds | LIST requests | requests / min | peak RSS (MiB) | vs boto3 | vs oracle |"
    if du:
        head = "| lister | keys/s | seconds | LIST requests | requests / min | peak RSS (MiB) | ≤ 300 MiB | vs oracle |"
    out = [head, "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for e in sorted(rows, key=_key):
        kps = e["keys_per_s"]
        vs_boto = f"{kps / boto['keys_per_s']:.1f}×" if boto and e is not boto else ("1×" if e is boto else "—")
        vs_oracle = f"{kps / oracle['keys_per_s']:.2f}" if oracle and e is not oracle else ("1" if e is oracle else "—")
        name = f"**{e['lister']}**" if e["lister"].startswith("s3turbo") else e["lister"]
        if e.get("form"):
            name += f" ({e['form']})"
        if e.get("workers"):
            name += f" ({e['workers']} ranges)"
        rounds = f" (median of {e['rounds']})" if e.get("rounds", 1) > 1 else ""
        if du:
            third = "—" if e["lister"] == "oracle" else ("yes" if e.get("within_rss_budget") else "**no**")
        else:
            third = vs_boto
        out.append(f"| {name} | {_rate(kps)} | {e['seconds']:.2f}{rounds} | {e['list_requests']:,} | "
                   f"{e['requests_ratio']:.2f} | {_mib(e['peak_rss_bytes'])} | {third} | {vs_oracle} |")
    return out


def build(results: dict[str, Any]) -> str:
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = defaultdict(list)
    for b in results["benchmarks"]:
        e = b.get("extra_info") or {}
        if "keys_per_s" not in e:
            continue
        kind = "du" if b["group"].startswith("du-") else "list"
        groups[(kind, e["layout"], e.get("latency_ms", 0))].append(e)
    mi = results.get("machine_info", {})
    paired = sorted((b["extra_info"] for b in results["benchmarks"] if (b.get("extra_info") or {}).get("paired")),
                    key=lambda e: _key({"layout": e["layout"], "latency_ms": e["latency_ms"], "lister": ""}))
    ns = sorted({e["n"] for rows in groups.values() for e in rows} | {e["n"] for e in paired})
    lines = [
        "# Listing at scale",
        "",
        f"Generated from the `{results.get('datetime', '?')}` run. Machine: {mi.get('cpu', {}).get('count', '?')} cores "
        f"({mi.get('cpu', {}).get('brand_raw', '?')}), Python {mi.get('python_version', '?')}, {_go_version()}.",
        "",
        "Server: `benchmarks/synthlist`, an in-memory ListObjectsV2 server over a synthetic key set "
        f"(N = {', '.join(f'{n:,}' for n in ns)} keys; versitygw re-reads a whole directory per LIST page, "
        "so it cannot serve a million keys under one prefix). The 30 ms profile puts toxiproxy in front of it "
        "(+30 ms on every response). Server and client share this machine's cores.",
        "",
        "- **keys/s**: N / the lister's own listing time (process start-up, imports and client set-up excluded; "
        "s5cmd: whole process). Each lister runs in a fresh process.",
        "- **LIST requests**: counted by the server; **requests / min**: over ceil(N / 1000), the fewest pages "
        "a lister can use.",
        "- **peak RSS**: the lister's process (`wait4` max RSS, taken in a small launcher process, which puts a "
        "~8 MiB floor under every figure). The oracle's includes the key set it knows in advance.",
        "- **vs boto3**: keys/s over boto3's paginator's (speed-up). **vs oracle**: keys/s over the oracle's "
        "(1 = the practical limit: up to 64 concurrent page-aligned ranges split with perfect knowledge of the keys, the minimum number of requests; "
        "unsigned raw HTTP, URL-encoded keys as every S3 client asks for, only keys and sizes scanned, nothing kept).",
        "- **s3turbo-oracle-split**: s3turbo's parallel `list_columns` seeded (`split_after`) with the oracle's "
        "own 63 split points: the same client with a perfect split. So parallel / oracle-split measures the "
        "adaptive splitter alone, and oracle-split / oracle the cost of the client itself (the SDK's request "
        "path, a parse of every name, size and mtime, and the result's columns in Python, none of which the "
        "oracle has).",
        "- **s3turbo** listers return `list_columns`' result: names as an `s3turbo.Names` column (each page's "
        "names as one UTF-8 buffer plus offsets, decoded to `str` on access), sizes and mtimes as int64 arrays. "
        "The check decodes every name after the timed call, as obstore's Arrow batches are turned into strings "
        "outside its timing.",
        "- Every run was checked in the same run: N keys, and the sorted key list hashes to the server's digest "
        "(the oracle compares every key itself; du totals must match the server's).",
        "",
    ]
    summary: dict[tuple[str, int], dict[str, float]] = {}
    for (kind, layout, ms), rows in sorted(groups.items(), key=lambda kv: (kv[0][0] != "list", _key(
            {"layout": kv[0][1], "latency_ms": kv[0][2], "lister": ""}))):
        if kind != "list":
            continue
        lines += [f"## {layout} ({DESCRIBE.get(layout, '')}), {ms} ms", "",
                  f"{rows[0]['n']:,} keys; synthlist server RSS {_mib(max(e['server_rss_bytes'] for e in rows))} MiB.",
                  ""] + _table(rows) + [""]
        summary[(layout, ms)] = {e["lister"]: e["keys_per_s"] for e in rows}
    if summary:
        listers = [p for p in ORDER if any(p in v for v in summary.values())]
        lines += ["## Summary: keys/s", "", "| layout | latency | " + " | ".join(listers) + " |",
                  "|---|---:|" + "---:|" * len(listers)]
        for (layout, ms), v in summary.items():
            lines.append(f"| {layout} | {ms} ms | " + " | ".join(_rate(v[p]) if p in v else "—" for p in listers) + " |")
        lines.append("")
    split = [(layout, ms, v) for (layout, ms), v in summary.items()
             if {"s3turbo-parallel", "s3turbo-oracle-split", "oracle"} <= v.keys()]
    if split:
        lines += ["## The splitter and the client, apart", "",
                  "s3turbo-parallel against the oracle, split into two factors (their product): the adaptive "
                  "splitter against a perfect split made by the same client, and that client against the oracle.",
                  "", "| layout | latency | parallel / oracle | parallel / oracle-split (splitter) | "
                  "oracle-split / oracle (client) |", "|---|---:|---:|---:|---:|"]
        for layout, ms, v in split:
            par, seeded, orc = v["s3turbo-parallel"], v["s3turbo-oracle-split"], v["oracle"]
            lines.append(f"| {layout} | {ms} ms | {par / orc:.2f} | {par / seeded:.2f} | {seeded / orc:.2f} |")
        lines.append("")
    if paired:
        def cell(v: list[float]) -> str:
            v = sorted(v)
            return f"{v[len(v) // 2]:.2f} ({v[0]:.2f}–{v[-1]:.2f})" if len(v) > 1 else f"{v[0]:.2f}"

        lines += ["## Paired rounds: the parallel listers interleaved", "",
                  "Each round runs s3turbo-parallel, s3turbo-oracle-split, the oracle and (in runs that have it) "
                  "s3turbo-du once each, in an order that rotates from round to round, and each ratio is taken "
                  "within a round (rate over rate): a change in this shared machine's speed between one lister's "
                  "turn and the next, which moves the ratios of the tables above, falls on all of them here. "
                  "Median of the rounds (lowest–highest).", "",
                  "**du / oracle** is s3turbo's parallel `du` (adaptive split, not seeded) against the oracle: the "
                  "same work as the oracle's (list every key, total the sizes, keep nothing), so it is the splitter "
                  "and engine without `list_columns`' cost of handing every name, size and mtime to Python.", "",
                  "The last column is each client's own CPU time during its listing (median seconds, "
                  "s3turbo-parallel / s3turbo-oracle-split / oracle / s3turbo-du): the server shares this "
                  "machine's two cores, so a client's CPU is time the server does not get.", "",
                  "| layout | latency | rounds | parallel / oracle | parallel / oracle-split (splitter) | "
                  "oracle-split / oracle (client) | du / oracle | client CPU (s) |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for e in paired:
            r = e["ratios"]
            cpu = e.get("cpu_seconds") or {}
            cpus = " / ".join(f"{statistics.median(cpu[p]):.2f}" if cpu.get(p) else "—"
                              for p in ("s3turbo-parallel", "s3turbo-oracle-split", "oracle", "s3turbo-du"))
            du_cell = cell(r["du_oracle"]) if r.get("du_oracle") else "—"
            lines.append(f"| {e['layout']} | {e['latency_ms']} ms | {e['rounds']} | {cell(r['parallel_oracle'])} | "
                         f"{cell(r['parallel_split'])} | {cell(r['split_oracle'])} | {du_cell} | {cpus} |")
        lines.append("")
    du = {k: v for k, v in groups.items() if k[0] == "du"}
    if du:
        lines += ["## du (total size and count), 0 ms", "",
                  "The issue's budget: du of 10 M keys under 300 MiB peak RSS.", ""]
        for (_, layout, ms), rows in sorted(du.items(), key=lambda kv: _key(
                {"layout": kv[0][1], "latency_ms": kv[0][2], "lister": ""})):
            lines += [f"### {layout}, {rows[0]['n']:,} keys", "",
                      f"synthlist server RSS {_mib(max(e['server_rss_bytes'] for e in rows))} MiB.", ""] \
                + _table(rows, du=True) + [""]
    return "\n".join(lines)


def main() -> None:
    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    text = build(json.loads(src.read_text()))
    dst.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
