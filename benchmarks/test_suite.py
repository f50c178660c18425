"""The benchmark suite (issue #5, part 1): GETs, byte ranges and PUTs, s3turbo vs every peer and the oracle.

Same server (the session's versitygw, benchmarks/conftest.py), same data,
same run. Groups (sizes follow the knobs below; these are the defaults):

- ``get-2000x16KiB``, ``get-2000x256KiB``: many small objects.
- ``get-100x8MiB``: medium objects (one request each at s3turbo's 8 MiB part size).
- ``get-1x1GiB``: one large object (written by multipart upload).
- ``ranges-1000x64KiB``: 1 000 random 64 KiB ranges of the large object.
- ``put-2000x64KiB``, ``put-1x1GiB``: writes from memory.

Peers, each configured the way its own docs recommend for the workload:

- **s3turbo**: ``get_objects`` / ``get_ranges`` / ``put_objects`` (the baseline of every group).
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
- **oracle**: benchmarks/getoracle, raw SigV4-signed HTTP GETs with known sizes
  (GET groups and ranges only; the practical limit).

Correctness: every s3turbo round is checked, untimed, in the benchmark's
teardown (GET bytes hash to the reference digest; PUTs are read back with
boto3 and their ETags compared); peers are checked too (GETs every round,
PUTs after the last round). A fast wrong answer fails the test.

Knobs (environment):

- ``S3TURBO_BENCH_SUITE_QUICK=1``: validation sizes (20 objects, 5 x 8 MiB,
  16 MiB large, 20 ranges, 20 PUTs, 2 rounds) unless set individually below.
- ``S3TURBO_BENCH_SUITE_SMALL_N`` (2000), ``..._MEDIUM_N`` (100), ``..._MEDIUM_MIB`` (8),
  ``..._LARGE_MIB`` (1024), ``..._RANGES_N`` (1000), ``..._PUT_N`` (2000),
  ``..._ROUNDS`` (3, plus one warm-up round).
- ``S3TURBO_BENCH_SUITE_PEERS``: comma list of peer names or prefixes to run
  (e.g. ``s3turbo,oracle``); default all.
- ``S3TURBO_BENCH_SUITE_GROUPS``: comma list of group-name prefixes (e.g. ``get-,ranges-``).
- ``S3TURBO_BENCH_ORACLE_CONCURRENCY`` (64): the oracle's requests in flight.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional, Sequence

import pytest
from boto3.s3.transfer import TransferConfig

from conftest import digest
from oracle_get import GetOracle

import s3turbo
from s3turbo.testing import LocalS3Server

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
    server: LocalS3Server
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
def suite(server: LocalS3Server) -> Iterator[Suite]:
    """Every object the suite reads, written once through the S3 API (real ETags)."""
    s3 = server.boto3_client(max_pool_connections=CONCURRENCY)
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
    total = WARMUP + ROUNDS
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
    benchmark.pedantic(target, setup=setup, teardown=teardown, rounds=ROUNDS, warmup_rounds=WARMUP)


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
MANY_GET_PEERS = ["s3turbo", "boto3-loop", "boto3-threads32", "s3fs-cat", "obstore-async", "oracle"]
ONE_GET_PEERS = ["s3turbo", "boto3-get_object", "boto3-download_fileobj", "s3fs-cat_file", "s3fs-open-read",
                 "obstore-get", "obstore-parts-async", "oracle"]
GET_CASES = [(w, p) for w in GETS for p in (MANY_GET_PEERS if w.n > 1 else ONE_GET_PEERS) if _selected(p, w.group)]


def _get_fn(peer: str, c: Clients, s: ObjSet) -> Callable[[], Any]:
    paths = s.paths
    if peer == "s3turbo":
        return lambda: c.turbo.get_objects(paths)
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


@pytest.mark.parametrize("w,peer", GET_CASES, ids=[f"{w.group}-{p}" for w, p in GET_CASES])
def test_get(benchmark: Any, suite: Suite, clients: Clients, w: Workload, peer: str) -> None:
    s = suite.sets[w.name]
    benchmark.group = w.group
    info = dict(bytes=s.total, objects=len(s.keys))
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
    role = {"role": "baseline"} if peer == "s3turbo" else {}
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
