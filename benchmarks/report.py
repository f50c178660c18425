"""Turn a pytest-benchmark JSON file into a Markdown table of ratios.

ratio = peer median / s3turbo median within each benchmark group (higher is
better for s3turbo). Usage: report.py RESULTS.json OUTPUT.md
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any


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


def _facts(results: dict[str, Any]) -> str:
    mi = results.get("machine_info", {})
    cpu = mi.get("cpu", {})
    mem = f", {mi['mem_total_kib'] / (1 << 20):.0f} GiB RAM" if mi.get("mem_total_kib") else ""
    osname = f", {mi.get('system')} {mi.get('release')}" if mi.get("system") else ""
    latency = mi.get("latency_ms", 0)
    facts = (f"Machine: {cpu.get('count', '?')} cores ({cpu.get('brand_raw', platform.processor() or '?')}){mem}{osname}; "
             f"Python {mi.get('python_version', '?')}; {mi.get('go_version') or _go_version()}; "
             f"server: {mi.get('server', 'versitygw (posix backend) on loopback')}; "
             f"latency profile: {latency:g} ms.")
    versions = mi.get("package_versions")
    if versions:
        facts += " Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + "."
    rounds = sorted({b["stats"]["rounds"] for b in results["benchmarks"]})
    if rounds:
        facts += f" Rounds per test: {rounds[0]}" + (f"–{rounds[-1]}" if len(rounds) > 1 else "") + " (medians)."
    return facts


def _rate(b: dict[str, Any]) -> str:
    n = b.get("extra_info", {}).get("bytes")
    if not n:
        return ""
    return f"{n / b['stats']['median'] / (1 << 20):,.0f}"


def build(results: dict[str, Any]) -> str:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for b in results["benchmarks"]:
        groups[b["group"] or b["name"]].append(b)
    lines = [
        "# s3turbo benchmark results",
        "",
        f"Generated from `{results.get('datetime', '?')}` run. {_facts(results)}",
        "",
        "Ratio = peer median time / s3turbo median time, measured side by side in the same run "
        "(> 1 means s3turbo is faster). Absolute times on this shared 2-core machine are noise; ratios are the result.",
        "",
        "**Fraction of oracle** = oracle median time / this client's median time, where the group has an oracle "
        "(benchmarks/getoracle: raw SigV4-signed HTTP GETs planned with known sizes, the practical limit; 1.00 = as "
        "fast as the oracle). The oracle reads each body into a per-worker buffer reused across requests and "
        "discards it, so it pays no page faults or result allocation that a client handing the bytes to Python "
        "does, and it fetches exactly the requested ranges (no coalescing: a client that merges nearby ranges, "
        "like obstore's `get_ranges`, can exceed 1.00). MiB/s = bytes moved / median time.",
        "",
        "| workload | peer | peer median (s) | s3turbo median (s) | ratio | MiB/s | fraction of oracle |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for group, benches in groups.items():
        base = next((b for b in benches if _role(b) == "baseline"), None) or \
            next((b for b in benches if "s3turbo" in b["name"]), None)
        if base is None:
            continue
        oracle = next((b for b in benches if _role(b) == "oracle"), None)
        bmed = base["stats"]["median"]
        rows = [base] + [b for b in benches if b is not base and b is not oracle] + ([oracle] if oracle else [])
        for b in rows:
            med = b["stats"]["median"]
            ratio = "baseline" if b is base else f"**{med / bmed:.2f}×**"
            frac = f"{oracle['stats']['median'] / med:.2f}" if oracle else ""
            if b is base and oracle:
                frac = f"**{frac}**"
            lines.append(f"| {group} | {_peer(b)} | {med:.3f} | {bmed:.3f} | {ratio} | {_rate(b)} | {frac} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    text = build(json.loads(src.read_text()))
    dst.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
