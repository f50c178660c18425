"""Turn pytest-benchmark JSON files into a Markdown report of ratios, with PNG charts.

ratio = peer median / s3turbo median within each benchmark group (higher is
better for s3turbo).

Usage::

    report.py RESULTS.json [MORE.json ...] OUTPUT.md [--no-charts]

One JSON gives one table (as before). Several (e.g. the suite at 0 ms and at
30 ms, see ``S3TURBO_BENCH_LATENCY_MS``) give one Markdown with a section per
run, titled by its latency profile. Unless ``--no-charts``, each run also gets
two PNG charts next to OUTPUT.md, linked from it (matplotlib, Agg backend):
``<stem>-<latency>ms.png`` (every peer's ratio per workload, log scale) and
``<stem>-<latency>ms-oracle.png`` (fraction of the oracle per client, for the
groups that have one).
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any, Optional


def _go_version() -> str:
    try:
        return subprocess.run(["go", "version"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _peer(b: dict[str, Any]) -> str:
    """Display name: the suite's extra_info peer, else the test name after the workload."""
    return str(b.get("extra_info", {}).get("peer") or b["name"].removeprefix("test_").split("_", 1)[-1])


def _role(b: dict[str, Any]) -> str:
    role = b.get("extra_info", {}).get("role")
    if role:
        return str(role)
    return "oracle" if _peer(b) == "oracle" else ""


def _latency(results: dict[str, Any]) -> float:
    return float(results.get("machine_info", {}).get("latency_ms", 0) or 0)


def _facts(results: dict[str, Any]) -> str:
    mi = results.get("machine_info", {})
    cpu = mi.get("cpu", {})
    mem = f", {mi['mem_total_kib'] / (1 << 20):.0f} GiB RAM" if mi.get("mem_total_kib") else ""
    osname = f", {mi.get('system')} {mi.get('release')}" if mi.get("system") else ""
    latency = _latency(results)
    profile = f"{latency:g} ms" + (f" ({mi['latency']})" if mi.get("latency") else "")
    facts = (f"Machine: {cpu.get('count', '?')} cores ({cpu.get('brand_raw', platform.processor() or '?')}){mem}{osname}; "
             f"Python {mi.get('python_version', '?')}; {mi.get('go_version') or _go_version()}; "
             f"server: {mi.get('server', 'versitygw (posix backend) on loopback')}; "
             f"latency profile: {profile}.")
    versions = mi.get("package_versions")
    if versions:
        facts += " Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + "."
    rounds = sorted({b["stats"]["rounds"] for b in results["benchmarks"]})
    if rounds:
        facts += f" Rounds per test: {rounds[0]}" + (f"–{rounds[-1]}" if len(rounds) > 1 else "") + " (medians)."
    return facts


def _mibs(b: dict[str, Any]) -> Optional[float]:
    n = b.get("extra_info", {}).get("bytes")
    return n / b["stats"]["median"] / (1 << 20) if n else None


def _rate(b: dict[str, Any]) -> str:
    r = _mibs(b)
    return f"{r:,.0f}" if r is not None else ""


class Group:
    """One workload: its baseline (s3turbo), its oracle if any, and every other row."""

    def __init__(self, name: str, benches: list[dict[str, Any]]) -> None:
        self.name = name
        self.base = next((b for b in benches if _role(b) == "baseline"), None) or \
            next((b for b in benches if "s3turbo" in b["name"]), None)
        self.oracle = next((b for b in benches if _role(b) == "oracle"), None)
        self.others = [b for b in benches if b is not self.base and b is not self.oracle]

    @property
    def rows(self) -> list[dict[str, Any]]:
        assert self.base is not None
        return [self.base] + self.others + ([self.oracle] if self.oracle else [])

    def ratio(self, b: dict[str, Any]) -> float:
        assert self.base is not None
        return float(b["stats"]["median"] / self.base["stats"]["median"])

    def fraction(self, b: dict[str, Any]) -> Optional[float]:
        return float(self.oracle["stats"]["median"] / b["stats"]["median"]) if self.oracle else None


def groups_of(results: dict[str, Any]) -> list[Group]:
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for b in results["benchmarks"]:
        by[b["group"] or b["name"]].append(b)
    return [g for g in (Group(name, benches) for name, benches in by.items()) if g.base is not None]


EXPLAIN = [
    "Ratio = peer median time / s3turbo median time, measured side by side in the same run "
    "(> 1 means s3turbo is faster). Absolute times on this shared 2-core machine are noise; ratios are the result.",
    "",
    "**Fraction of oracle** = oracle median time / this client's median time, where the group has an oracle "
    "(benchmarks/getoracle: raw SigV4-signed HTTP GETs planned with known sizes, the practical limit; 1.00 = as "
    "fast as the oracle). The oracle reads each body into a per-worker buffer reused across requests and "
    "discards it, so it pays no page faults or result allocation that a client handing the bytes to Python "
    "does, and it fetches exactly the requested ranges (no coalescing: a client that merges nearby ranges, "
    "like obstore's `get_ranges`, can exceed 1.00). MiB/s = bytes moved / median time. "
    "*rounds* = timed rounds behind the median; a row with fewer rounds than its baseline ran the same "
    "workload, only fewer times (see its note).",
]


def table(results: dict[str, Any]) -> list[str]:
    """The ratio table of one run, with numbered notes under it."""
    lines = [
        "| workload | peer | peer median (s) | s3turbo median (s) | ratio | MiB/s | fraction of oracle | rounds |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    notes: dict[str, int] = {}
    for g in groups_of(results):
        assert g.base is not None
        bmed = g.base["stats"]["median"]
        for b in g.rows:
            med = b["stats"]["median"]
            ratio = "baseline" if b is g.base else f"**{g.ratio(b):.2f}×**"
            f = g.fraction(b)
            frac = "" if f is None else (f"**{f:.2f}**" if b is g.base else f"{f:.2f}")
            peer = _peer(b)
            info = b.get("extra_info", {})
            for note in (info.get("note"), info.get("slow_peer")):
                if note:
                    peer += f" [{notes.setdefault(note, len(notes) + 1)}]"
            lines.append(f"| {g.name} | {peer} | {med:.3f} | {bmed:.3f} | {ratio} | {_rate(b)} | {frac} | "
                         f"{b['stats']['rounds']} |")
    if notes:
        lines.append("")
        lines += [f"[{i}] {note}.  " for note, i in notes.items()]
        lines[-1] = lines[-1].rstrip()
    return lines


# ---------------------------------------------------------------- charts


def _chart_rows(results: dict[str, Any], oracle: bool) -> list[tuple[str, list[tuple[str, float, bool]]]]:
    """Per group, (peer, value, is_s3turbo): ratios of every non-baseline row, or fractions of the oracle."""
    out = []
    for g in groups_of(results):
        assert g.base is not None
        if oracle:
            if g.oracle is None:
                continue
            vals = [(_peer(b), g.fraction(b) or 0.0, b is g.base) for b in [g.base] + g.others]
        else:
            vals = [(_peer(b) + (" *" if b.get("extra_info", {}).get("note") else "")
                     + (" †" if b.get("extra_info", {}).get("slow_peer") else ""), g.ratio(b), b is g.oracle)
                    for b in g.others + ([g.oracle] if g.oracle else [])]
        if vals:
            out.append((g.name, vals))
    return out


def chart(results: dict[str, Any], path: Path, oracle: bool) -> bool:
    """Write one horizontal grouped-bar PNG; False when there is nothing to draw."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = _chart_rows(results, oracle)
    if not groups:
        return False
    labels, values, colors, ticks, seps = [], [], [], [], []
    y = 0.0
    for gi, (name, vals) in enumerate(groups):
        if gi:
            seps.append(y - 0.25)  # halfway between the groups' bars
            y += 0.5
        for peer, v, mine in vals:
            labels.append(f"{name}  {peer}")
            values.append(v)
            if oracle:
                colors.append("#1f77b4" if mine else "#9aa5b1")
            else:  # mine = the oracle here: the limit, not a peer
                colors.append("#9aa5b1" if mine else "#2ca02c" if round(v, 2) >= 1 else "#d62728")
            ticks.append(y)
            y += 1
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.24 * len(values)))
    ax.barh(ticks, values, color=colors, height=0.8)
    ax.set_yticks(ticks, labels, fontsize=7)
    ax.invert_yaxis()
    for s in seps:
        ax.axhline(s, color="#dddddd", linewidth=0.8)
    latency = _latency(results)
    if oracle:
        ax.axvline(1.0, color="black", linewidth=1)
        ax.set_xlabel("fraction of the oracle (oracle median / client median; 1 = the practical limit)")
        ax.set_title(f"Fraction of the oracle, {latency:g} ms profile (s3turbo in blue)", fontsize=10)
        for t, v in zip(ticks, values):
            ax.text(v, t, f" {v:.2f}", va="center", fontsize=6)
    else:
        ax.set_xscale("log")
        ax.axvline(1.0, color="black", linewidth=1)
        ax.set_xlabel("peer median / s3turbo median (log scale; > 1: s3turbo faster)")
        ax.set_title(f"Peers vs s3turbo per workload, {latency:g} ms profile (* marked row, † fewer rounds: see the table; oracle in grey)",
                     fontsize=10)
        for t, v in zip(ticks, values):
            ax.text(v, t, f" {v:.2f}×", va="center", fontsize=6)
        lo, hi = min(values), max(values)
        ax.set_xlim(min(0.5, lo / 1.5), max(2.0, hi * 2.5))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# ---------------------------------------------------------------- document


def section(results: dict[str, Any], out: Path, charts: bool, heading: Optional[str], explain: bool) -> list[str]:
    """One run: its facts, (the explanation,) its charts and its table."""
    latency = _latency(results)
    lines = ([heading, ""] if heading else []) + \
        [f"Generated from `{results.get('datetime', '?')}` run. {_facts(results)}", ""]
    if explain:
        lines += EXPLAIN + [""]
    if charts:
        for oracle, suffix, alt in ((False, "", "ratios"), (True, "-oracle", "fraction of the oracle")):
            png = out.with_name(f"{out.stem}-{latency:g}ms{suffix}.png")
            if chart(results, png, oracle):
                lines += [f"![{alt}, {latency:g} ms]({png.name})", ""]
    return lines + table(results) + [""]


def build(runs: list[dict[str, Any]], out: Optional[Path] = None, charts: bool = False) -> str:
    """The Markdown for one or more runs (one section per run when several)."""
    out = out or Path("report.md")
    lines = ["# s3turbo benchmark results", ""]
    if len(runs) == 1:
        lines += section(runs[0], out, charts, None, explain=True)
    else:
        profiles = ", ".join(f"{_latency(r):g} ms" for r in runs)
        lines += [f"One section per latency profile ({profiles}): each profile is its own run, so ratios compare "
                  "peers within a section; compare sections by ratio, not by absolute time.", ""] + EXPLAIN + [""]
        for r in runs:
            lines += section(r, out, charts, f"## Latency profile: {_latency(r):g} ms", explain=False)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: Optional[list[str]] = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    charts = "--no-charts" not in args
    args = [a for a in args if a != "--no-charts"]
    if len(args) < 2:
        sys.exit(__doc__)
    *srcs, dst = [Path(a) for a in args]
    runs = [json.loads(s.read_text()) for s in srcs]
    runs.sort(key=_latency)
    text = build(runs, dst, charts)
    dst.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
