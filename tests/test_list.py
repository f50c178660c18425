"""Listing at scale: Client.list / list_columns / du / count against boto3.

boto3's list_objects_v2 paginator is the reference. Four key layouts of a
few thousand keys each (flat hex, date-partitioned, a deep hierarchy, and a
skewed one with 90% of the keys under hot/) are listed serially, in
parallel (sorted and unsorted, with few and many workers) and as columns.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any, Callable

import pytest

import s3turbo
from s3turbo import DuResult, ListResult
from helpers import (
    SlowListServer, assert_entries_equal, boto3_level, boto3_list, du_groups, populate, put_many, unpopulate,
)

N = 3000  # keys per layout (3+ pages each)
LAYOUTS = ("hex", "date", "deep", "skewed")


def layout_sizes(name: str, n: int = N) -> dict[str, int]:
    """key (below "<name>/") → size, deterministic."""
    rnd = random.Random(f"s3turbo-{name}")
    if name == "hex":
        keys = [f"{rnd.getrandbits(128):032x}" for _ in range(n)]
    elif name == "date":
        per_day = n // (12 * 25)
        keys = [f"year=2024/month={m:02d}/day={d:02d}/part-{p:05d}.parquet"
                for m in range(1, 13) for d in range(1, 26) for p in range(per_day)]
    elif name == "deep":
        per_leaf = math.ceil(n / (4 * 4 * 4 * 5))
        keys = [f"l1-{a}/l2-{b}/l3-{c}/l4-{d}/obj-{e:03d}"
                for a in range(4) for b in range(4) for c in range(4) for d in range(5) for e in range(per_leaf)]
    elif name == "skewed":
        hot = n * 9 // 10
        keys = [f"hot/{rnd.getrandbits(64):016x}" for _ in range(hot)]
        keys += [f"cold-{i % 30:02d}/obj-{i:05d}" for i in range(n - hot)]
    else:
        raise ValueError(name)
    return {f"{name}/{k}": rnd.randrange(0, 5000) for k in keys}


# A few objects per layout PUT through S3 (so that they carry real ETags even
# when the rest is written straight into the server's posix directory).
ETAG_KEYS = {
    "hex": [f"hex/etag-{i:02d}" for i in range(10)],
    "date": [f"date/year=2024/month=01/day=01/etag-{i:02d}.parquet" for i in range(10)],
    "deep": [f"deep/l1-0/l2-0/l3-0/l4-0/etag-{i:02d}" for i in range(10)],
    "skewed": [f"skewed/hot/etag-{i:02d}" for i in range(10)],
}


class Data:
    """The module's data set and its boto3 references."""

    def __init__(self, bucket: str, sizes: dict[str, int], refs: dict[str, list[dict[str, Any]]]) -> None:
        self.bucket, self.sizes, self.refs = bucket, sizes, refs


@pytest.fixture(scope="module")
def data(s3: Any, endpoint: Any, module_bucket: str) -> Any:
    sizes: dict[str, int] = {}
    for name in LAYOUTS:
        sizes.update(layout_sizes(name))
    populate(s3, endpoint.root, module_bucket, sizes)
    etagged = {k: hashlib.sha256(k.encode()).digest() * (1 + i % 3)
               for ks in ETAG_KEYS.values() for i, k in enumerate(ks)}
    put_many(s3, module_bucket, etagged)
    sizes.update({k: len(v) for k, v in etagged.items()})
    whole = boto3_list(s3, module_bucket)
    assert len(whole) == len(sizes)
    refs = {name: [e for e in whole if e["name"].startswith(f"{module_bucket}/{name}/")] for name in LAYOUTS}
    refs[""] = whole
    yield Data(module_bucket, sizes, refs)
    unpopulate(endpoint.root, module_bucket, sizes)


# --------------------------------------------------------------------------
# The four layouts, every way of listing
# --------------------------------------------------------------------------

# (The client's max_concurrency is 64, so workers=64 is also the default.)
LIST_MODES: dict[str, dict[str, Any]] = {
    "serial": dict(),
    "parallel": dict(parallel=True),
    "parallel-unsorted-64-workers": dict(parallel=True, sorted=False, workers=64),
    "parallel-2-workers": dict(parallel=True, workers=2),
}


@pytest.mark.parametrize("mode", LIST_MODES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_list_layout(client: s3turbo.Client, data: Data, layout: str, mode: str) -> None:
    kw = LIST_MODES[mode]
    got = list(client.list(f"{data.bucket}/{layout}/", **kw))
    expected = data.refs[layout]
    assert len(expected) > 3000
    assert_entries_equal(got, expected, ordered=kw.get("sorted", True))
    assert any(e["ETag"] for e in got), "the S3-written objects have ETags"


COLUMN_MODES: dict[str, dict[str, Any]] = {
    "parallel": dict(parallel=True),
    "serial": dict(parallel=False),
    "parallel-2-workers": dict(parallel=True, workers=2),
}


def check_columns(r: ListResult, expected: list[dict[str, Any]], ordered: bool = True) -> None:
    """list_columns' result against boto3_list(); ordered=False compares rows
    (name, size, mtime) regardless of their order."""
    assert isinstance(r, ListResult) and isinstance(r.names, s3turbo.Names)
    assert len(r) == len(expected)
    assert len(r.names) == len(r.sizes) == len(r.mtimes_ns) == len(expected)
    rows = list(zip(r.names, r.sizes, r.mtimes_ns))
    # Random access into the page-chunked column agrees with iterating it.
    names = [n for n, _, _ in rows]
    assert r.names.tolist() == names
    for i in sorted({0, 999, 1000, 1001, len(names) // 2, len(names) - 1} & set(range(len(names)))):
        assert r.names[i] == names[i] and r.names[i - len(names)] == names[i]
    assert r.names[990:2010] == names[990:2010] and r.names[::997] == names[::997]
    if not ordered:
        rows.sort(key=lambda row: row[0].encode("utf-8", "surrogateescape"))
    assert [n for n, _, _ in rows] == [e["name"] for e in expected]
    assert [s for _, s, _ in rows] == [e["size"] for e in expected]
    for (_, _, ns), e in zip(rows, expected):
        assert abs(ns / 1e9 - e["LastModified"].timestamp()) < 1.0, (e["name"], ns, e["LastModified"])
    assert r.requests >= math.ceil(len(expected) / 1000)


# list_columns(parallel=True) does not always return its columns sorted (see
# test_list_columns_parallel_order, xfail): until that is fixed the other
# tests compare its rows order-insensitively.
PARALLEL_COLUMNS_ORDERED = True


@pytest.mark.parametrize("mode", COLUMN_MODES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_list_columns_layout(client: s3turbo.Client, data: Data, layout: str, mode: str) -> None:
    kw = COLUMN_MODES[mode]
    check_columns(client.list_columns(f"{data.bucket}/{layout}/", **kw), data.refs[layout],
                  ordered=PARALLEL_COLUMNS_ORDERED or not kw["parallel"])


def test_list_columns_parallel_order(client: s3turbo.Client, data: Data) -> None:
    """A busy process (another thread holding the GIL for 50 ms slices) reads
    the engine's pages late, so they queue up; the columns must still be
    sorted (the docstring: 'as sorted columns')."""
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            sum(range(10_000))

    old = sys.getswitchinterval()
    sys.setswitchinterval(0.05)
    th = threading.Thread(target=busy, daemon=True)
    th.start()
    try:
        results = [client.list_columns(f"{data.bucket}/date/") for _ in range(3)]
    finally:
        stop.set()
        th.join()
        sys.setswitchinterval(old)
    for r in results:
        check_columns(r, data.refs["date"], ordered=True)


@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
def test_keys_with_line_breaks(client: s3turbo.Client, s3: Any, bucket: str, parallel: bool) -> None:
    """Names holding a newline (the engine's column separator) or other
    control characters arrive whole, in list, list_columns and ETags alike."""
    keys = ["a", "line\nbreak", "two\n\nlines/x", "cr\r\nlf", "tab\tz", "trailing\n", "\nlead", "z"]
    put_many(s3, bucket, {k: k.encode() for k in keys}, threads=4)
    expected = boto3_list(s3, bucket)
    assert sorted(e["name"] for e in expected) == sorted(f"{bucket}/{k}" for k in keys)
    check_columns(client.list_columns(bucket, parallel=parallel), expected)
    assert_entries_equal(list(client.list(bucket, recursive=True, parallel=parallel)), expected)


def test_whole_bucket(client: s3turbo.Client, data: Data) -> None:
    """All layouts at once (12 000+ keys): the parallel lister meets every
    layout's structure in one key space."""
    expected = data.refs[""]
    check_columns(client.list_columns(f"s3://{data.bucket}/"), expected, ordered=PARALLEL_COLUMNS_ORDERED)
    assert_entries_equal(list(client.list(data.bucket, parallel=True, sorted=False, workers=8)), expected,
                         ordered=False)
    assert_entries_equal(list(client.list(data.bucket)), expected)


def check_layout(client: s3turbo.Client, s3: Any, endpoint: Any, bucket: str, sizes: dict[str, int], prefix: str,
                 at_least: int, depth: int = 0) -> None:
    """Populate key → size, then check the parallel lister under prefix against
    boto3's paginator (list_columns, list as entries) and du (by prefix down to
    depth too, against the serial du, when depth > 0); the keys are removed
    afterwards. The prefix must hold more than at_least keys."""
    populate(s3, endpoint.root, bucket, sizes)
    try:
        expected = boto3_list(s3, bucket, prefix)
        assert len(expected) == sum(1 for k in sizes if k.startswith(prefix)) > at_least
        check_columns(client.list_columns(f"{bucket}/{prefix}"), expected, ordered=PARALLEL_COLUMNS_ORDERED)
        assert_entries_equal(list(client.list(f"{bucket}/{prefix}", parallel=True, workers=8)), expected)
        du = client.du(f"{bucket}/{prefix}", depth=depth)
        assert (du.count, du.size) == (len(expected), sum(e["size"] for e in expected))
        if depth:
            assert du.by_prefix == client.du(f"{bucket}/{prefix}", depth=depth, parallel=False).by_prefix
    finally:
        unpopulate(endpoint.root, bucket, sizes)


def log_names() -> dict[str, int]:
    """key → size: S3 server access logs and CloudFront logs over three days,
    1 100 a day (a page of names lies inside one day: its numbered levels,
    years, months and days, are probed with '-' and '.' in the names)."""
    rnd = random.Random("s3turbo-logs")
    keys = []
    for day in (1, 2, 3):
        for i in range(1100):
            t = i * 78  # seconds into the day
            stamp = f"2024-03-{day:02d}-{t // 3600:02d}-{t // 60 % 60:02d}-{t % 60:02d}"
            keys.append(f"logs/{stamp}-{rnd.getrandbits(64):016X}")
            keys.append(f"cf/E2QWRUHAPOMQZL.{stamp[:13]}.{rnd.getrandbits(32):08x}.gz")
    return {k: rnd.randrange(0, 5000) for k in keys}


@pytest.mark.parametrize("prefix", ["", "logs/", "logs/2024-03-", "logs/2024-03-0", "cf/E2QWRUHAPOMQZL.2024-"])
def test_log_layouts(client: s3turbo.Client, s3: Any, endpoint: Any, bucket: str, prefix: str) -> None:
    """Log names whose numbers a separator parts (S3's access logs, and
    CloudFront's after the distribution's name), under listing prefixes that
    end inside a level: the parallel lister, which probes those levels with
    '-' as the delimiter, lists every key once, as boto3 does, and du agrees."""
    sizes = log_names()
    check_layout(client, s3, endpoint, bucket, sizes, prefix, at_least=1000)


def cloudtrail_names() -> dict[str, int]:
    """key → size: CloudTrail's AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/
    over 2023-2024 in three regions, two quiet (one file a day) and one busy
    (twelve a day): a calendar of months and days under every region and year,
    and ranges that cross from a quiet region into the busy one."""
    import datetime

    rnd = random.Random("s3turbo-cloudtrail")
    keys = {}
    day0 = datetime.date(2023, 1, 1)
    for region, per_day in (("ap-south-1", 1), ("eu-west-1", 1), ("us-east-1", 12)):
        for d in range(731):
            day = day0 + datetime.timedelta(days=d)
            for i in range(per_day):
                stamp = f"{day:%Y%m%d}T{i * 2:02d}{rnd.randrange(60):02d}Z"
                name = f"123456789012_CloudTrail_{region}_{stamp}_{rnd.getrandbits(32):08X}.json.gz"
                keys[f"AWSLogs/123456789012/CloudTrail/{region}/{day:%Y/%m/%d}/{name}"] = rnd.randrange(0, 5000)
    return keys


@pytest.mark.parametrize("prefix", ["", "AWSLogs/123456789012/CloudTrail/", "AWSLogs/123456789012/CloudTrail/us-east-1/2024/"])
def test_cloudtrail_layout(client: s3turbo.Client, s3: Any, endpoint: Any, bucket: str, prefix: str) -> None:
    """CloudTrail's date folders under region folders, where one probed
    year's months or month's days stand for every other's (a calendar): the
    parallel lister lists every key once, as boto3 does, and du agrees, by
    region too."""
    sizes = cloudtrail_names()
    check_layout(client, s3, endpoint, bucket, sizes, prefix, at_least=4000, depth=1)


@pytest.mark.parametrize("prefix", ["", "events/", "events/dt=2024-"])
def test_more_folders_than_a_page(client: s3turbo.Client, s3: Any, endpoint: Any, bucket: str, prefix: str) -> None:
    """1 100 Hive partitions by date in one folder, more than one delimiter
    page lists: the parallel lister pages through the folder's probe and lists
    every key once, as boto3 does; du's per-partition counts agree."""
    import datetime

    rnd = random.Random("s3turbo-hivedt")
    day0 = datetime.date(2022, 1, 1)
    sizes = {f"events/dt={day0 + datetime.timedelta(days=d)}/part-{i:05d}.parquet": rnd.randrange(0, 5000)
             for d in range(1100) for i in range(3)}
    check_layout(client, s3, endpoint, bucket, sizes, prefix, at_least=1000, depth=2)


@pytest.mark.parametrize("prefix", ["", "users/", "users/<a letter>"])
@pytest.mark.parametrize("names", ["uuids", "logins"])
def test_more_user_folders_than_a_page(client: s3turbo.Client, s3: Any, endpoint: Any, bucket: str,
                                       names: str, prefix: str) -> None:
    """1 500 folders named by UUIDs or by logins, more than one delimiter page
    lists: past the probe's last folder ranges are measured and cut over the
    bytes of those names; every key comes once, as boto3 lists them, and du
    agrees."""
    import string
    import uuid

    rnd = random.Random("s3turbo-userdirs")

    def name() -> str:
        if names == "uuids":
            return str(uuid.UUID(int=rnd.getrandbits(128)))
        return "".join(rnd.choice(string.ascii_lowercase) for _ in range(rnd.randrange(5, 11)))

    sizes = {f"users/{name()}/{i}.jpg": rnd.randrange(0, 5000) for _ in range(1500) for i in range(2)}
    prefix = prefix.replace("<a letter>", "8" if names == "uuids" else "m")
    check_layout(client, s3, endpoint, bucket, sizes, prefix, at_least=100)


@pytest.mark.parametrize("points", ["exact", "messy"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_split_after(client: s3turbo.Client, data: Data, layout: str, points: str) -> None:
    """Split points seed a parallel listing: from an earlier listing (every
    500th name), or messy (unsorted, duplicated, outside the path, s3:// form,
    not keys at all). Either way every key comes exactly once, in order."""
    expected = data.refs[layout]
    names = [e["name"] for e in expected]
    pts = names[499::500]
    if points == "messy":
        other = data.refs["hex" if layout != "hex" else "date"]
        pts = (pts[::-1] + pts[:3] + [f"s3://{names[1000]}", names[0], names[-1], names[7] + "~",
               f"{data.bucket}/", other[0]["name"], other[-1]["name"]])
    path = f"{data.bucket}/{layout}/"
    check_columns(client.list_columns(path, split_after=pts, workers=8), expected)
    assert_entries_equal(list(client.list(path, parallel=True, split_after=pts)), expected)
    assert_entries_equal(list(client.list(path, parallel=True, sorted=False, split_after=pts)), expected,
                         ordered=False)
    r = client.du(path, depth=1, split_after=pts)
    assert (r.count, r.size) == (len(expected), sum(e["size"] for e in expected))
    assert r.by_prefix == client.du(path, depth=1, parallel=False).by_prefix


def test_split_after_errors(client: s3turbo.Client, data: Data) -> None:
    """Bad split points fail before any request, naming the point."""
    path = f"{data.bucket}/hex/"
    with pytest.raises(ValueError, match="other-bucket/x.*not in the listed bucket"):
        client.list_columns(path, split_after=[f"{data.bucket}/hex/a", "other-bucket/x"])
    with pytest.raises(ValueError, match="other-bucket/x"):
        client.du(path, split_after=["other-bucket/x"])
    with pytest.raises(ValueError, match="parallel"):
        client.list_columns(path, parallel=False, split_after=[f"{data.bucket}/hex/a"])
    with pytest.raises(ValueError, match="parallel"):
        list(client.list(path, split_after=[f"{data.bucket}/hex/a"]))
    with pytest.raises(ValueError, match="parallel"):
        client.du(path, parallel=False, split_after=[f"{data.bucket}/hex/a"])


def test_int_arguments_out_of_range(client: s3turbo.Client, data: Data) -> None:
    """What the engine's int32 parameters cannot hold is a ValueError naming
    the parameter (cffi raised a bare OverflowError)."""
    path = f"{data.bucket}/hex/"
    with pytest.raises(ValueError, match="depth"):
        client.du(path, depth=10**10)
    with pytest.raises(ValueError, match="workers"):
        client.list_columns(path, workers=2**31)
    with pytest.raises(ValueError, match="workers"):
        list(client.list(path, parallel=True, workers=-(2**40)))
    with pytest.raises(ValueError, match="part_size"):
        client.open_writer(f"{data.bucket}/w", part_size=2**63)
    with pytest.raises(ValueError, match="expires"):
        client.presign(f"{data.bucket}/w", expires=2**63)
    with pytest.raises(TypeError, match="not a single str"):
        client.list_columns(path, split_after=f"{data.bucket}/hex/a")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="each split point"):
        client.list_columns(path, split_after=[b"x"])  # type: ignore[list-item]
    # An empty list is no points: the listing is the adaptive one.
    check_columns(client.list_columns(path, split_after=[]), data.refs["hex"])
    # Any iterable of paths will do, a generator too.
    names = [e["name"] for e in data.refs["hex"]]
    check_columns(client.list_columns(path, split_after=(n for n in names[::700])), data.refs["hex"])


# --------------------------------------------------------------------------
# du / count
# --------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_du_layout(client: s3turbo.Client, data: Data, layout: str, depth: int) -> None:
    prefix = f"{layout}/"
    path = f"{data.bucket}/{prefix}"
    expected = data.refs[layout]
    par = client.du(path, depth=depth)
    ser = client.du(path, depth=depth, parallel=False)
    for r in (par, ser):
        assert isinstance(r, DuResult)
        assert r.path == path
        assert r.size == sum(e["size"] for e in expected)
        assert r.count == len(expected)
        assert r.requests >= math.ceil(len(expected) / 1000)
        assert r.by_prefix == du_groups(
            ((e["name"].split("/", 1)[1], e["size"]) for e in expected), data.bucket, prefix, depth)
        assert sum(c for _, c in r.by_prefix.values()) == r.count
        assert sum(s for s, _ in r.by_prefix.values()) == r.size
    assert (par.path, par.size, par.count, par.by_prefix) == (ser.path, ser.size, ser.count, ser.by_prefix)
    assert ser.requests == math.ceil(len(expected) / 1000)  # serial: exactly one request per page


def test_du_depth_groups_by_hand(client: s3turbo.Client, data: Data) -> None:
    """The grouping rule spelled out on known layouts."""
    b = data.bucket
    r = client.du(f"{b}/date/", depth=2)
    assert sorted(r.by_prefix) == [f"{b}/date/year=2024/month={m:02d}/" for m in range(1, 13)]
    r = client.du(f"{b}/skewed/", depth=1, parallel=False)
    assert sorted(r.by_prefix) == sorted([f"{b}/skewed/hot/"] + [f"{b}/skewed/cold-{i:02d}/" for i in range(30)])
    assert r.by_prefix[f"{b}/skewed/hot/"][1] == N * 9 // 10 + len(ETAG_KEYS["skewed"])
    # Keys with fewer directory components than depth: hot/<key> counts under
    # hot/ (its deepest directory), as in coreutils `du -d 2`.
    r2 = client.du(f"{b}/skewed/", depth=2, parallel=False)
    assert r2.by_prefix == r.by_prefix
    # Top-level keys (no directory at all) count under the path itself.
    r = client.du(f"{b}/hex/", depth=1)
    assert r.by_prefix == {f"{b}/hex/": (r.size, r.count)}
    # depth=0: no groups.
    r = client.du(f"{b}/deep/")
    assert r.by_prefix == {} and r.count == len(data.refs["deep"])


def test_count(client: s3turbo.Client, data: Data) -> None:
    n = client.count(f"{data.bucket}/deep/")
    assert type(n) is int and n == len(data.refs["deep"])
    assert client.count(f"{data.bucket}/skewed/hot/", parallel=False) == N * 9 // 10 + len(ETAG_KEYS["skewed"])
    assert client.count(f"s3://{data.bucket}/hex/") == len(data.refs["hex"])
    assert client.count(data.bucket, parallel=False) == len(data.sizes)


# --------------------------------------------------------------------------
# One level (recursive=False)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", [
    "", "date/year=2024/", "date/year=2024/month=03/", "skewed/", "hex/", "deep/l1-1/l2-2/l3-3/l4-4/",
])
def test_one_level(client: s3turbo.Client, s3: Any, data: Data, prefix: str) -> None:
    b = data.bucket
    got = list(client.list(f"{b}/{prefix}", recursive=False))
    expected = boto3_level(s3, b, prefix)
    assert expected
    # Same entries as boto3's delimiter listing, in key order.
    assert [(e["name"], e["type"], e["size"]) for e in got] == [(e["name"], e["type"], e["size"]) for e in expected]
    for e in got:
        if e["type"] == "directory":
            assert e["size"] == 0 and not e["name"].endswith("/")
    # Same names and types as ls (which lists the folder prefix/).
    ls = client.ls(f"{b}/{prefix}") if prefix else client.ls(b)
    assert sorted((e["name"], e["type"]) for e in got) == sorted((e["name"], e["type"]) for e in ls)
    # parallel/sorted do not change a one-level listing.
    assert [e["name"] for e in client.list(f"{b}/{prefix}", recursive=False, parallel=True)] == [
        e["name"] for e in got]


def test_one_level_folder_named_with_a_slash(mem_endpoint: Any) -> None:
    # "data//part-0" (a sloppy path join, legal on S3) lies in the folder
    # "data//": a one-level listing of "data/" names it "data/" (its own
    # slash off), not "data", the folder being listed.
    s3 = mem_endpoint.boto3()
    b = f"s3turbo-slash-{random.randrange(1 << 30)}"
    s3.create_bucket(Bucket=b)
    for k in ["data//part-0", "data/x", "data/sub/y"]:
        s3.put_object(Bucket=b, Key=k, Body=b"1")
    client = mem_endpoint.client()
    try:
        expected = [(e["name"], e["type"]) for e in boto3_level(s3, b, "data/")]
        assert (f"{b}/data/", "directory") in expected
        assert [(e["name"], e["type"]) for e in client.list(f"{b}/data/", recursive=False)] == expected
        assert sorted((e["name"], e["type"]) for e in client.ls(f"{b}/data/")) == sorted(expected)
    finally:
        client.close()
        for k in ["data//part-0", "data/x", "data/sub/y"]:
            s3.delete_object(Bucket=b, Key=k)
        s3.delete_bucket(Bucket=b)


# --------------------------------------------------------------------------
# Prefix semantics
# --------------------------------------------------------------------------

PREFIX_KEYS = ["da", "dat", "data/x", "data/sub/y", "datab", "datum/1", "other/z", "zz"]

ALL_MODES: dict[str, Callable[[s3turbo.Client, str], list[str]]] = {
    "serial": lambda c, p: [e["name"] for e in c.list(p)],
    "parallel": lambda c, p: [e["name"] for e in c.list(p, parallel=True)],
    "parallel-unsorted": lambda c, p: sorted(e["name"] for e in c.list(p, parallel=True, sorted=False)),
    "columns": lambda c, p: (lambda names: names if PARALLEL_COLUMNS_ORDERED else sorted(names))(
        c.list_columns(p).names),
    "columns-serial": lambda c, p: c.list_columns(p, parallel=False).names,
}


@pytest.fixture
def prefix_bucket(s3: Any, bucket: str) -> str:
    put_many(s3, bucket, {k: k.encode() * 3 for k in PREFIX_KEYS})
    return bucket


@pytest.mark.parametrize("mode", ALL_MODES)
def test_prefix_semantics(client: s3turbo.Client, s3: Any, prefix_bucket: str, mode: str) -> None:
    b = prefix_bucket
    run = ALL_MODES[mode]
    cases = {
        f"{b}/dat": ["dat", "data/sub/y", "data/x", "datab", "datum/1"],  # verbatim: "dat" itself included
        f"s3://{b}/dat": ["dat", "data/sub/y", "data/x", "datab", "datum/1"],
        f"{b}/data": ["data/sub/y", "data/x", "datab"],
        f"{b}/data/": ["data/sub/y", "data/x"],  # only the folder
        f"{b}/datab": ["datab"],  # a key equal to the prefix
        f"{b}/data/sub/y": ["data/sub/y"],
        f"{b}/d": ["da", "dat", "data/sub/y", "data/x", "datab", "datum/1"],
        b: sorted(PREFIX_KEYS),
        f"{b}/": sorted(PREFIX_KEYS),
        f"s3://{b}": sorted(PREFIX_KEYS),
        f"s3://{b}/": sorted(PREFIX_KEYS),
    }
    for path, keys in cases.items():
        prefix = path.removeprefix("s3://").split("/", 1)[1] if "/" in path.removeprefix("s3://") else ""
        ref = [e["name"] for e in boto3_list(s3, b, prefix)]
        assert ref == [f"{b}/{k}" for k in keys], path  # the data set is what we think
        assert run(client, path) == ref, path


def test_prefix_semantics_entries_and_du(client: s3turbo.Client, s3: Any, prefix_bucket: str) -> None:
    b = prefix_bucket
    for prefix in ("dat", "data/", ""):
        expected = boto3_list(s3, b, prefix)
        assert_entries_equal(list(client.list(f"{b}/{prefix}")), expected)
        r = client.du(f"{b}/{prefix}", depth=1)
        assert (r.size, r.count) == (sum(e["size"] for e in expected), len(expected))
        assert r.by_prefix == du_groups(((e["name"].split("/", 1)[1], e["size"]) for e in expected), b, prefix, 1)
        assert client.count(f"{b}/{prefix}") == len(expected)
    # verbatim du groups: under "dat", data/x goes to "dat" + "a/"; dat and datab to "dat" itself
    r = client.du(f"{b}/dat", depth=1, parallel=False)
    assert r.by_prefix == {f"{b}/dat": (3 * (3 + 5), 2),
                           f"{b}/data/": (3 * (6 + 10), 2), f"{b}/datum/": (3 * 7, 1)}
    # one level under a verbatim prefix
    level = [(e["name"], e["type"]) for e in client.list(f"{b}/dat", recursive=False)]
    assert level == [(e["name"], e["type"]) for e in boto3_level(s3, b, "dat")]
    assert sorted(level) == [(f"{b}/dat", "file"), (f"{b}/data", "directory"), (f"{b}/datab", "file"),
                             (f"{b}/datum", "directory")]


def test_one_level_in_key_order(client: s3turbo.Client, prefix_bucket: str) -> None:
    got = list(client.list(prefix_bucket, recursive=False))
    order = [e["name"] + ("/" if e["type"] == "directory" else "") for e in got]
    assert order == sorted(order)


# --------------------------------------------------------------------------
# Missing buckets, empty prefixes
# --------------------------------------------------------------------------

MISSING = "s3turbo-test-no-such-bucket-7f3a"

SERIAL_CALLS: dict[str, Callable[[s3turbo.Client, str], Any]] = {
    "list": lambda c, p: list(c.list(p)),
    "list-one-level": lambda c, p: list(c.list(p, recursive=False)),
    "list_columns": lambda c, p: c.list_columns(p, parallel=False),
    "du": lambda c, p: c.du(p, parallel=False),
    "du-depth": lambda c, p: c.du(p, depth=1, parallel=False),
    "count": lambda c, p: c.count(p, parallel=False),
}

PARALLEL_CALLS: dict[str, Callable[[s3turbo.Client, str], Any]] = {
    "list": lambda c, p: list(c.list(p, parallel=True)),
    "list-unsorted": lambda c, p: list(c.list(p, parallel=True, sorted=False)),
    "list-2-workers": lambda c, p: list(c.list(p, parallel=True, workers=2)),
    "list_columns": lambda c, p: c.list_columns(p),
    "du": lambda c, p: c.du(p),
    "count": lambda c, p: c.count(p),
}


@pytest.mark.parametrize("call", SERIAL_CALLS)
def test_missing_bucket_serial(client: s3turbo.Client, call: str) -> None:
    for path in (MISSING, f"{MISSING}/", f"s3://{MISSING}/some/prefix"):
        with pytest.raises(FileNotFoundError, match=MISSING):
            SERIAL_CALLS[call](client, path)


def test_missing_bucket_parallel_once(client: s3turbo.Client) -> None:
    """Parallel calls on a missing bucket raise an error naming it (its class
    is checked, repeatedly, by test_missing_bucket_parallel)."""
    for call in PARALLEL_CALLS.values():
        with pytest.raises(OSError, match=MISSING):
            call(client, f"{MISSING}/x")


@pytest.mark.parametrize("call", PARALLEL_CALLS)
def test_missing_bucket_parallel(client: s3turbo.Client, call: str) -> None:
    got: dict[str, int] = {}
    for _ in range(30):  # the outcome is a race: repeat
        try:
            PARALLEL_CALLS[call](client, f"{MISSING}/x")
            got["no error"] = got.get("no error", 0) + 1
        except Exception as e:  # noqa: BLE001
            got[type(e).__name__] = got.get(type(e).__name__, 0) + 1
    assert got == {"FileNotFoundError": 30}


@pytest.mark.parametrize("call", list(SERIAL_CALLS) + [f"parallel-{k}" for k in PARALLEL_CALLS])
def test_empty_prefix_is_not_an_error(client: s3turbo.Client, data: Data, bucket: str, call: str) -> None:
    fn = SERIAL_CALLS[call] if call in SERIAL_CALLS else PARALLEL_CALLS[call.removeprefix("parallel-")]
    for path in (f"{data.bucket}/no-such-prefix/", f"{data.bucket}/hex/zzz", bucket, f"{bucket}/x/"):
        r = fn(client, path)
        if isinstance(r, list):
            assert r == []
        elif isinstance(r, int):
            assert r == 0
        elif hasattr(r, "names"):
            assert len(r) == 0 and (r.names, list(r.sizes), list(r.mtimes_ns)) == ([], [], [])
            assert r.requests >= 1
        else:
            assert (r.size, r.count, r.by_prefix) == (0, 0, {})
            assert r.path == path.removeprefix("s3://")


def test_bad_paths(client: s3turbo.Client) -> None:
    for bad in ("", "/key", "s3://"):
        with pytest.raises(ValueError):
            list(client.list(bad))
        with pytest.raises(ValueError):
            client.du(bad)
    with pytest.raises(ValueError):
        client.du("bucket", depth=-1)
    with pytest.raises(TypeError):
        list(client.list(123))  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# Streaming and early exit
# --------------------------------------------------------------------------


def test_stop_after_first_entry(client: s3turbo.Client, data: Data) -> None:
    for kw in (dict(), dict(parallel=True), dict(parallel=True, sorted=False)):
        gen = client.list(data.bucket, **kw)
        first = list(itertools.islice(gen, 1))
        assert len(first) == 1 and first[0]["type"] == "file"
        if kw.get("sorted", True):
            assert first[0]["name"] == min(f"{data.bucket}/{k}" for k in data.sizes)
        gen.close()
    # the client is still usable
    assert client.count(f"{data.bucket}/deep/") == len(data.refs["deep"])
    check_columns(client.list_columns(f"{data.bucket}/date/"), data.refs["date"], ordered=PARALLEL_COLUMNS_ORDERED)


@pytest.mark.parametrize("kw", [dict(parallel=True), dict(parallel=True, sorted=False), dict()],
                         ids=["parallel", "parallel-unsorted", "serial"])
def test_break_out_of_listing(client: s3turbo.Client, data: Data, kw: dict[str, Any]) -> None:
    path = f"{data.bucket}/skewed/"
    expected = {e["name"] for e in data.refs["skewed"]}
    names = []
    for e in client.list(path, **kw):
        names.append(e["name"])
        if len(names) == 1500:  # mid-listing: other ranges are still running
            break
    assert len(set(names)) == 1500
    assert set(names) <= expected
    # abandoning a generator without closing it explicitly is fine too
    gen = client.list(path, **kw)
    next(gen)
    del gen
    assert client.count(path, parallel=False) == len(expected)
    assert {e["name"] for e in client.list(path, **kw)} == expected


@pytest.fixture(scope="module")
def slow_server() -> Any:
    with SlowListServer(delay=60.0) as srv:
        yield srv


def _next_within(gen: Any, timeout: float) -> Any:
    box: list[Any] = []

    def take() -> None:
        try:
            box.append(next(gen))
        except BaseException as e:  # noqa: BLE001
            box.append(e)

    t = threading.Thread(target=take, daemon=True)
    t.start()
    t.join(timeout)
    assert box, f"no entry within {timeout} s: the listing is not streamed"
    if isinstance(box[0], BaseException):
        raise box[0]
    return box[0]


@pytest.mark.parametrize("kw", [dict(), dict(parallel=True), dict(parallel=True, sorted=False)],
                         ids=["serial", "parallel", "parallel-unsorted"])
def test_first_entry_before_listing_ends(slow_server: SlowListServer, kw: dict[str, Any]) -> None:
    """An endless listing (every page after the first takes 60 s) still yields
    its first entries at once, and closing it cancels the in-flight requests
    promptly."""
    with s3turbo.Client(endpoint_url=slow_server.url, key="k", secret="s", region="us-east-1") as c:
        gen = c.list("fake", **kw)
        t0 = time.monotonic()
        first = _next_within(gen, 10.0)
        assert first["name"] == "fake/k000000000000" and first["size"] == 1
        rest = list(itertools.islice(gen, 999))
        assert [e["name"] for e in rest] == [f"fake/k{i:012d}" for i in range(1, 1000)]
        assert time.monotonic() - t0 < 10.0
        t1 = time.monotonic()
        gen.close()
        assert time.monotonic() - t1 < 2.0, "closing the listing did not cancel it promptly"


# --------------------------------------------------------------------------
# Progress
# --------------------------------------------------------------------------


def test_progress(client: s3turbo.Client, data: Data, capsys: pytest.CaptureFixture[str]) -> None:
    path = f"{data.bucket}/deep/"
    n = len(data.refs["deep"])
    capsys.readouterr()
    assert sum(1 for _ in client.list(path, progress=True)) == n
    assert capsys.readouterr().err.strip()
    assert sum(1 for _ in client.list(path, parallel=True, progress=True)) == n
    assert capsys.readouterr().err.strip()
    assert len(client.list_columns(path, progress=True)) == n
    assert capsys.readouterr().err.strip()
    assert client.du(path, depth=1, progress=True).count == n
    assert capsys.readouterr().err.strip()
    assert client.count(path, progress=True) == n
    assert capsys.readouterr().err.strip()
    # and nothing without it
    assert sum(1 for _ in client.list(path)) == n
    client.du(path)
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------
# Ctrl-C
# --------------------------------------------------------------------------

CHILD = textwrap.dedent("""
    import signal, sys, time
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
    import s3turbo
    url, kind = sys.argv[1], sys.argv[2]
    c = s3turbo.Client(endpoint_url=url, key="k", secret="s", region="us-east-1")
    kw = {"serial": {}, "parallel": {"parallel": True}, "unsorted": {"parallel": True, "sorted": False}}[kind]
    try:
        for i, e in enumerate(c.list("fake", **kw)):
            if i == 0:
                print("started", flush=True)
    except KeyboardInterrupt:
        print("KeyboardInterrupt", flush=True)
        sys.exit(42)
    print("finished", flush=True)
""")


@pytest.mark.parametrize("kind", ["serial", "parallel", "unsorted"])
def test_ctrl_c_interrupts_listing(slow_server: SlowListServer, kind: str) -> None:
    """SIGINT during a listing whose next page takes a minute: the iterator
    raises KeyboardInterrupt (after cancelling the listing) within 1.5 s.

    The server is a fake endpoint (SlowListServer) so that the listing is
    guaranteed to be in progress, blocked in a request, when the signal comes.
    """
    p = subprocess.Popen([sys.executable, "-c", CHILD, slow_server.url, kind],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()  # type: ignore[union-attr]
        assert line == "started\n", (line, p.stderr.read() if p.poll() is not None else "")  # type: ignore[union-attr]
        time.sleep(0.3)  # let it block on the next page
        assert p.poll() is None
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        rc = p.wait(timeout=15)
        elapsed = time.monotonic() - t0
        out, err = p.communicate()
        assert rc == 42, (rc, out, err)
        assert out == "KeyboardInterrupt\n", (out, err)
        assert elapsed < 1.5, f"exited {elapsed:.2f} s after SIGINT"
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
