"""Client's per-object batch operations against boto3 as the reference."""

from __future__ import annotations

import os
import urllib.request
from typing import Any

import pytest

import s3turbo

from helpers import boto3_get, put_many

MiB = 1 << 20


def test_stat_many(client: s3turbo.Client, s3: Any, bucket: str) -> None:
    put_many(s3, bucket, {"s/a": b"abc", "s/dir/b": b"", "s/ü ñ+?#": b"odd"})
    res = client.stat([f"{bucket}/s/a", f"{bucket}/s/dir", bucket, f"{bucket}/s/missing",
                       f"s3://{bucket}/s/ü ñ+?#"], on_error="return")
    head = s3.head_object(Bucket=bucket, Key="s/a")
    assert res[0]["type"] == "file" and res[0]["size"] == 3 and res[0]["ETag"] == head["ETag"]
    assert res[1] == {"name": f"{bucket}/s/dir", "type": "directory", "size": 0}
    assert res[2]["type"] == "directory"
    assert isinstance(res[3], FileNotFoundError) and "s/missing" in str(res[3])
    assert res[4]["size"] == 3
    with pytest.raises(FileNotFoundError, match="s/missing"):
        client.stat([f"{bucket}/s/a", f"{bucket}/s/missing"])
    # Names are the engine's: any scheme case it accepts, one trailing "/"
    # less ("S3://" was kept, and "s/dir//" named the other folder "s/dir").
    res = client.stat([f"S3://{bucket}/s/a", f"{bucket}/s/dir/", f"s3a://{bucket}/"])
    assert [r["name"] for r in res] == [f"{bucket}/s/a", f"{bucket}/s/dir", bucket]


def test_stat_names_a_double_slash_prefix(mem_endpoint: Any) -> None:
    s3 = mem_endpoint.boto3()
    bucket = f"s3turbo-stat-{os.getpid()}"
    s3.create_bucket(Bucket=bucket)
    put_many(s3, bucket, {"a//b": b"x"})
    res = mem_endpoint.client().stat([f"{bucket}/a//", f"{bucket}/a/"])
    assert [(r["name"], r["type"]) for r in res] == [(f"{bucket}/a/", "directory"), (f"{bucket}/a", "directory")]


def test_put_objects_and_create_only(client: s3turbo.Client, s3: Any, bucket: str) -> None:
    big = os.urandom(20 * MiB + 5)
    datas = [b"", b"small", bytearray(b"ba"), memoryview(big)]
    paths = [f"{bucket}/p/empty", f"{bucket}/p/small", f"{bucket}/p/ba", f"{bucket}/p/big"]
    etags = client.put_objects(paths, datas)
    for p, d, e in zip(paths, datas, etags):
        key = p.split("/", 1)[1]
        assert boto3_get(s3, bucket, key) == bytes(d)
        assert s3.head_object(Bucket=bucket, Key=key)["ETag"] == e
    res = client.put_objects([f"{bucket}/p/small", f"{bucket}/p/new"], [b"x", b"y"], create_only=True,
                             on_error="return")
    assert isinstance(res[0], FileExistsError) and "p/small" in str(res[0])
    assert isinstance(res[1], str)
    assert boto3_get(s3, bucket, "p/small") == b"small"
    with pytest.raises(TypeError, match="p/x"):
        client.put_objects([f"{bucket}/p/x"], ["not bytes"])


def test_upload_and_download_files(client: s3turbo.Client, s3: Any, bucket: str, tmp_path: Any) -> None:
    src = tmp_path / "src"
    src.mkdir()
    files = {"a": os.urandom(100), "b": os.urandom(9 * MiB + 1), "c": b""}
    for name, data in files.items():
        (src / name).write_bytes(data)
    client.upload_files([src / n for n in files], [f"{bucket}/u/{n}" for n in files])
    for name, data in files.items():
        assert boto3_get(s3, bucket, f"u/{name}") == data
    errs = client.upload_files([src / "missing", src], [f"{bucket}/u/m", f"{bucket}/u/d"], on_error="return")
    assert isinstance(errs[0], FileNotFoundError) and "missing" in str(errs[0])
    assert isinstance(errs[1], ValueError)
    dst = tmp_path / "dst"
    client.download_files([f"{bucket}/u/{n}" for n in files], [dst / "sub" / n for n in files], root=dst)
    for name, data in files.items():
        assert (dst / "sub" / name).read_bytes() == data
    with pytest.raises(ValueError):
        client.download_files([f"{bucket}/u/a"], [dst / ".." / "escape"], root=dst)
    assert not (tmp_path / "escape").exists()
    errs = client.download_files([f"{bucket}/u/nope", f"{bucket}/u/a"], [dst / "x", dst / "y"], on_error="return")
    assert isinstance(errs[0], FileNotFoundError) and errs[1] is None
    assert not (dst / "x").exists() and (dst / "y").read_bytes() == files["a"]


def test_get_ranges_and_etag_pinning(client: s3turbo.Client, s3: Any, bucket: str) -> None:
    data = os.urandom(10_000)
    s3.put_object(Bucket=bucket, Key="g/obj", Body=data)
    p = f"{bucket}/g/obj"
    ranges = [(0, 100), (-50, None), (None, 10), (9_990, 20_000), (5, -5), (10_000, None)]
    got = client.get_ranges([p] * len(ranges), [r[0] for r in ranges], [r[1] for r in ranges])
    assert [bytes(g) for g in got] == [data[s:e] for s, e in ranges]
    etag = s3.head_object(Bucket=bucket, Key="g/obj")["ETag"]
    ok, changed = client.get_ranges([p, p], [0, 0], [4, 4], etags=[etag, '"0000"'], on_error="return")
    assert bytes(ok) == data[:4] and isinstance(changed, s3turbo.ObjectChangedError)
    buf = bytearray(100)
    client.read_range_into(p, 200, buf, etag=etag)
    assert bytes(buf) == data[200:300]
    # A negative start is refused by name (it read as the range [-4:0] of
    # "0 bytes" against the buffer's 4).
    with pytest.raises(ValueError, match="start must be >= 0.*g/obj"):
        client.read_range_into(p, -4, bytearray(4))


@pytest.mark.parametrize("gap", [0, 4096, 1 * MiB, 64 * MiB])
def test_get_ranges_coalesced(endpoint: Any, s3: Any, bucket: str, gap: int) -> None:
    """Nearby ranges of one object share requests (coalesce_gap); every
    range still gets exactly its bytes, as boto3 reads them, whatever mix of
    overlapping, duplicate, past-the-end and negative ranges."""
    import random

    data = os.urandom(3 * MiB + 7)
    s3.put_object(Bucket=bucket, Key="co/obj", Body=data)
    s3.put_object(Bucket=bucket, Key="co/other", Body=data[:1000])
    rng = random.Random(gap)
    starts: list[Any] = []
    ends: list[Any] = []
    for _ in range(300):
        s = rng.randrange(0, len(data) + 100)
        starts.append(s)
        ends.append(s + rng.randrange(1, 70_000))
    starts += [starts[3], -10, None, 5, len(data) - 1]
    ends += [ends[3], None, 3, 5, len(data) + 50]
    paths = [f"{bucket}/co/obj"] * len(starts)
    paths[7] = paths[9] = f"{bucket}/co/other"
    with endpoint.client(coalesce_gap=gap) as c:
        got = c.get_ranges(paths, starts, ends)
    for i, (p, st, en) in enumerate(zip(paths, starts, ends)):
        ref = data if p.endswith("obj") else data[:1000]
        assert bytes(got[i]) == ref[st:en], (i, p, st, en)
    with pytest.raises(ValueError, match="coalesce_gap"):
        s3turbo.Client(coalesce_gap=-1)


def test_go_cpu_profile(client: s3turbo.Client, s3: Any, bucket: str, tmp_path: Any) -> None:
    from s3turbo.profiling import go_cpu_profile

    put_many(s3, bucket, {f"prof/{i}": b"x" * 1000 for i in range(50)})
    out = tmp_path / "cpu.pprof"
    with go_cpu_profile(out):
        client.get_objects([f"{bucket}/prof/{i}" for i in range(50)])
        with pytest.raises(ValueError, match="already running"):
            with go_cpu_profile(tmp_path / "second.pprof"):
                pass
    assert out.stat().st_size > 0  # gzipped protobuf, written when the profile stops
    assert out.read_bytes()[:2] == b"\x1f\x8b"
    with pytest.raises(OSError):
        with go_cpu_profile(tmp_path / "no" / "such" / "dir.pprof"):
            pass


def test_delete_copy_presign(client: s3turbo.Client, s3: Any, bucket: str) -> None:
    put_many(s3, bucket, {f"d/{i:04d}": b"v" for i in range(1500)})
    errs = client.copy([f"{bucket}/d/0000", f"{bucket}/d/missing"], [f"{bucket}/c/0", f"{bucket}/c/1"],
                       on_error="return")
    assert errs[0] is None and isinstance(errs[1], FileNotFoundError) and "d/missing" in str(errs[1])
    assert boto3_get(s3, bucket, "c/0") == b"v"
    errs = client.delete([f"{bucket}/d/{i:04d}" for i in range(1500)] + [f"{bucket}/d/never"])
    assert errs == [None] * 1501
    assert s3.list_objects_v2(Bucket=bucket, Prefix="d/").get("KeyCount") == 0
    url = client.presign(f"{bucket}/c/0", expires=60)
    with urllib.request.urlopen(url) as r:
        assert r.read() == b"v"
    put_url = client.presign(f"{bucket}/c/put", method="PUT")
    urllib.request.urlopen(urllib.request.Request(put_url, data=b"via-url", method="PUT")).close()
    assert boto3_get(s3, bucket, "c/put") == b"via-url"


def test_delete_keys_xml_cannot_carry(client: s3turbo.Client, s3: Any, bucket: str, endpoint: Any) -> None:
    """Keys holding control characters are deleted, by the fsspec rm too:
    DeleteObjects' XML body named them with U+FFFD instead, and the objects
    stayed while delete() reported success. (versitygw lists such keys with
    U+FFFD, boto3 too, so fs.rm is given the names rather than a folder.)"""
    keys = ["ctl/\x01a", "ctl/b\x1f", "ctl/plain", "ctl/tab\tand\nnewline"]
    put_many(s3, bucket, {k: b"v" for k in keys})
    assert client.delete([f"{bucket}/{k}" for k in keys]) == [None] * 4
    assert s3.list_objects_v2(Bucket=bucket, Prefix="ctl/").get("KeyCount") == 0
    put_many(s3, bucket, {k: b"v" for k in keys})
    from s3turbo.fs import S3FileSystem
    fs = S3FileSystem(key=endpoint.key, secret=endpoint.secret, endpoint_url=endpoint.url, skip_instance_cache=True)
    fs.rm([f"{bucket}/{k}" for k in keys])
    assert s3.list_objects_v2(Bucket=bucket, Prefix="ctl/").get("KeyCount") == 0


def test_one_destination_twice_in_a_batch(client: s3turbo.Client, s3: Any, bucket: str, tmp_path: Any) -> None:
    """Two sources for one object in one call: each was stored concurrently
    and reported success, and the object kept whichever landed last. The
    later item is refused before any request; the first is stored. So is a
    copy reading an object another item of the call overwrites."""
    errs = client.put_objects([f"{bucket}/t/k", f"{bucket}/t/k", f"{bucket}/t/j"], [b"first", b"second", b"j"],
                              on_error="return")
    assert isinstance(errs[0], str) and isinstance(errs[2], str)
    assert isinstance(errs[1], ValueError) and "item 0" in str(errs[1]) and "t/k" in str(errs[1])
    assert boto3_get(s3, bucket, "t/k") == b"first"
    with pytest.raises(ValueError, match="also the destination of item 0"):
        client.copy([f"{bucket}/t/j", f"{bucket}/t/k"], [f"{bucket}/t/c", f"{bucket}/t/c"])
    assert boto3_get(s3, bucket, "t/c") == b"j"
    # A rotation in one call: what t/r read would depend on which copy ran first.
    errs = client.copy([f"{bucket}/t/k", f"{bucket}/t/j"], [f"{bucket}/t/r", f"{bucket}/t/k"], on_error="return")
    assert isinstance(errs[0], ValueError) and "destination of item 1" in str(errs[0]) and errs[1] is None
    assert boto3_get(s3, bucket, "t/k") == b"j"
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_object(Bucket=bucket, Key="t/r")
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"file a")
    b.write_bytes(b"file b")
    errs = client.upload_files([str(a), str(a), str(b)], [f"{bucket}/t/f"] * 3, on_error="return")
    assert isinstance(errs[0], str) and errs[1] == errs[0]  # the same file twice stores the same object
    assert isinstance(errs[2], ValueError) and str(a) in str(errs[2])
    assert boto3_get(s3, bucket, "t/f") == b"file a"


def test_writer(client: s3turbo.Client, s3: Any, bucket: str) -> None:
    data = os.urandom(12 * MiB)
    with client.open_writer(f"{bucket}/wr/big", part_size=5 * MiB) as w:
        for i in range(0, len(data), 333_333):
            w.write(data[i:i + 333_333])
    assert boto3_get(s3, bucket, "wr/big") == data and w.etag and "-" in w.etag
    w2 = client.open_writer(f"{bucket}/wr/aborted", part_size=5 * MiB)
    w2.write(data)
    w2.abort()
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_object(Bucket=bucket, Key="wr/aborted")
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    with pytest.raises(FileExistsError):
        with client.open_writer(f"{bucket}/wr/big", create_only=True) as w3:
            w3.write(b"x")


def test_buckets(client: s3turbo.Client, s3: Any) -> None:
    name = f"s3turbo-bk-{os.getpid()}"
    client.make_bucket(name)
    try:
        assert name in [b["name"] for b in client.list_buckets()]
        with pytest.raises(FileExistsError):
            client.make_bucket(name)
    finally:
        client.remove_bucket(name)
    with pytest.raises(FileNotFoundError):
        client.remove_bucket(name)


def test_unknown_on_error_does_nothing(client: s3turbo.Client, s3: Any, bucket: str, tmp_path: Any) -> None:
    """A misspelt on_error is refused before any request: it was raised
    after the batch had run, so delete(..., on_error="ignore") raised and
    had deleted, and writes had been made."""
    s3.put_object(Bucket=bucket, Key="oe/keep", Body=b"precious")
    src = tmp_path / "f"
    src.write_bytes(b"x")
    calls = [
        lambda: client.delete([f"{bucket}/oe/keep"], on_error="ignore"),
        lambda: client.put_objects([f"{bucket}/oe/new"], [b"x"], on_error="Return"),
        lambda: client.copy([f"{bucket}/oe/keep"], [f"{bucket}/oe/copy"], on_error="skip"),
        lambda: client.upload_files([str(src)], [f"{bucket}/oe/up"], on_error="omit"),
        lambda: client.download_files([f"{bucket}/oe/keep"], [str(tmp_path / "down")], on_error="x"),
        lambda: client.stat([f"{bucket}/oe/keep"], on_error="ignore"),
        lambda: client.get_ranges([f"{bucket}/oe/keep"], [0], [1], on_error="ignore"),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="on_error must be 'raise' or 'return'"):
            call()
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="oe/").get("Contents", [])}
    assert keys == {"oe/keep"}
    assert not (tmp_path / "down").exists()


def test_download_to_a_directory_path_is_refused(client: s3turbo.Client, s3: Any, bucket: str, tmp_path: Any) -> None:
    """A destination ending with a separator names a directory, not the
    file to write: refused by name (it silently became a file "new")."""
    s3.put_object(Bucket=bucket, Key="dl/k", Body=b"data")
    with pytest.raises(ValueError, match="new/.*ends with a separator"):
        client.download_files([f"{bucket}/dl/k"], [str(tmp_path / "new") + "/"])
    assert not (tmp_path / "new").exists()



def test_objects_are_stored_with_their_attrs(client: s3turbo.Client, s3: Any, bucket: str, tmp_path: Any) -> None:
    """Content headers and metadata reach S3 on every write path, as with
    boto3's ExtraArgs; an unknown name raises instead of being dropped."""
    attrs = {"ContentType": "text/csv", "CacheControl": "max-age=60", "Metadata": {"owner": "alice"}}
    big = os.urandom(9 * MiB)
    (tmp_path / "f.csv").write_bytes(big)
    client.put_objects([f"{bucket}/at/small", f"{bucket}/at/big"], [b"a,b\n", big], attrs=attrs)
    client.upload_files([tmp_path / "f.csv"], [f"{bucket}/at/file"], attrs=attrs)
    with client.open_writer(f"{bucket}/at/writer", attrs=attrs) as w:
        w.write(b"x,y\n")
    for key in ("at/small", "at/big", "at/file", "at/writer"):
        h = s3.head_object(Bucket=bucket, Key=key)
        assert (h["ContentType"], h["CacheControl"], h["Metadata"]) == ("text/csv", "max-age=60", {"owner": "alice"}), key
    st = client.stat([f"{bucket}/at/small", f"{bucket}/s3turbo-no-meta"], on_error="return")
    assert st[0]["Metadata"] == {"owner": "alice"} and st[0]["ContentType"] == "text/csv"
    with client.open_writer(f"{bucket}/at/writer", append=True) as w:  # keeps its headers
        w.write(b"1,2\n")
    h = s3.head_object(Bucket=bucket, Key="at/writer")
    assert (h["ContentType"], h["Metadata"]) == ("text/csv", {"owner": "alice"})
    assert boto3_get(s3, bucket, "at/writer") == b"x,y\n1,2\n"
    with pytest.raises(ValueError, match="ContentTyp"):
        client.put_objects([f"{bucket}/at/bad"], [b"x"], attrs={"ContentTyp": "text/csv"})
    with pytest.raises(TypeError, match="mapping"):
        client.put_objects([f"{bucket}/at/bad"], [b"x"], attrs=[("ContentType", "x")])  # type: ignore[arg-type]
