"""client.ls compared with boto3's list_objects_v2(Delimiter="/")."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import s3turbo
from helpers import assert_ls_equal, boto3_ls, put_many

# One prefix with 1 500 entries: ListObjectsV2 pages hold at most 1 000 (objects
# and common prefixes together). Every 5th entry is a "directory", interleaved
# with the objects in key order, so both kinds straddle the page boundary.
N_ENTRIES = 1500
DIR_EVERY = 5

NESTED = {
    "root.txt": b"root",
    "a/top.txt": b"top",
    "a/b/": b"",  # directory marker
    "a/b/mid.txt": b"middle" * 10,
    "a/b/c/leaf1": b"1",
    "a/b/c/leaf2": b"22",
    "a/b/c/d/deep": b"deep" * 100,
    "a/b2/x": b"x",
    "empty/": b"",  # a directory marker alone
}


@pytest.fixture(scope="module")
def tree(s3: Any, module_bucket: str) -> str:
    """module_bucket filled with a pagination-sized and a nested data set."""
    objects: dict[str, bytes] = dict(NESTED)
    for i in range(N_ENTRIES):
        if i % DIR_EVERY == 0:
            objects[f"many/{i:05d}/x"] = b"x"
        else:
            objects[f"many/{i:05d}.bin"] = bytes([i % 251]) * (i % 37)
    put_many(s3, module_bucket, objects, threads=64)
    return module_bucket


def test_root_level(client: s3turbo.Client, s3: Any, tree: str) -> None:
    expected = boto3_ls(s3, tree, "")
    assert {e["name"] for e in expected} == {
        f"{tree}/root.txt", f"{tree}/a", f"{tree}/many", f"{tree}/empty"}
    for path in (tree, f"{tree}/", f"s3://{tree}", f"s3://{tree}/"):
        assert_ls_equal(client.ls(path), expected)


def test_pagination(client: s3turbo.Client, s3: Any, tree: str) -> None:
    expected = boto3_ls(s3, tree, "many/")
    assert len(expected) == N_ENTRIES
    got = client.ls(f"{tree}/many")
    assert len(got) == N_ENTRIES
    assert_ls_equal(got, expected)
    assert len({e["name"] for e in got}) == len(got), "duplicate entries across pages"
    file_ids = [i for i in range(N_ENTRIES) if i % DIR_EVERY]
    dir_ids = [i for i in range(N_ENTRIES) if i % DIR_EVERY == 0]
    files = [e for e in got if e["type"] == "file"]
    dirs = [e for e in got if e["type"] == "directory"]
    assert [e["name"] for e in files] == [f"{tree}/many/{i:05d}.bin" for i in file_ids]
    assert [e["size"] for e in files] == [i % 37 for i in file_ids]
    assert [e["name"] for e in dirs] == [f"{tree}/many/{i:05d}" for i in dir_ids]
    assert all(e["size"] == 0 for e in dirs)
    assert client.ls(f"s3://{tree}/many/", detail=False) == [e["name"] for e in expected]


@pytest.mark.parametrize("prefix", ["a", "a/b", "a/b/c", "a/b/c/d", "a/b2"])
@pytest.mark.parametrize("form", ["plain", "slash", "s3", "s3-slash"])
def test_nested_levels(client: s3turbo.Client, s3: Any, tree: str, prefix: str, form: str) -> None:
    path = {
        "plain": f"{tree}/{prefix}", "slash": f"{tree}/{prefix}/",
        "s3": f"s3://{tree}/{prefix}", "s3-slash": f"s3://{tree}/{prefix}/",
    }[form]
    expected = boto3_ls(s3, tree, prefix)
    assert expected, "reference listing is empty: the data set is wrong"
    got = client.ls(path)
    assert_ls_equal(got, expected)
    for e in got:
        assert not e["name"].endswith("/")
        assert not e["name"].startswith("s3://")


def test_nested_contents_explicitly(client: s3turbo.Client, tree: str) -> None:
    """Independent of boto3: the exact one-level view of the nested tree."""
    got = {e["name"]: (e["type"], e["size"]) for e in client.ls(f"{tree}/a/b")}
    assert got == {
        f"{tree}/a/b/mid.txt": ("file", 60),
        f"{tree}/a/b/c": ("directory", 0),
    }
    got = {e["name"]: (e["type"], e["size"]) for e in client.ls(f"{tree}/a/b/c/")}
    assert got == {
        f"{tree}/a/b/c/leaf1": ("file", 1),
        f"{tree}/a/b/c/leaf2": ("file", 2),
        f"{tree}/a/b/c/d": ("directory", 0),
    }


def test_directory_marker_is_not_an_entry(client: s3turbo.Client, tree: str) -> None:
    names = client.ls(f"{tree}/a/b", detail=False)
    assert f"{tree}/a/b" not in names and f"{tree}/a/b/" not in names
    # A prefix holding only its marker exists and is empty.
    assert client.ls(f"{tree}/empty") == []
    assert client.ls(f"{tree}/empty/") == []


def test_detail_false_gives_names(client: s3turbo.Client, s3: Any, tree: str) -> None:
    for prefix in ("", "a", "a/b", "many"):
        path = f"{tree}/{prefix}" if prefix else tree
        names = client.ls(path, detail=False)
        assert all(isinstance(n, str) for n in names)
        assert names == [e["name"] for e in boto3_ls(s3, tree, prefix)]
        assert names == [e["name"] for e in client.ls(path, detail=True)]


def test_entry_fields(client: s3turbo.Client, s3: Any, tree: str) -> None:
    head = s3.head_object(Bucket=tree, Key="a/b/mid.txt")
    (entry,) = [e for e in client.ls(f"{tree}/a/b") if e["type"] == "file"]
    assert entry["name"] == f"{tree}/a/b/mid.txt"
    assert entry["size"] == head["ContentLength"] == 60
    assert entry["ETag"] == head["ETag"]
    assert isinstance(entry["LastModified"], dt.datetime)
    assert entry["LastModified"].utcoffset() == dt.timedelta(0)
    assert abs((entry["LastModified"] - head["LastModified"]).total_seconds()) < 1.0


@pytest.mark.parametrize("form", ["{b}/a/b/mid.txt", "s3://{b}/a/b/mid.txt", "{b}/root.txt", "{b}/a/b/c/d/deep"])
def test_path_naming_an_object(client: s3turbo.Client, s3: Any, tree: str, form: str) -> None:
    path = form.format(b=tree)
    key = path.split(f"{tree}/", 1)[1]
    head = s3.head_object(Bucket=tree, Key=key)
    got = client.ls(path)
    assert len(got) == 1
    (e,) = got
    assert e["name"] == f"{tree}/{key}"
    assert e["type"] == "file"
    assert e["size"] == head["ContentLength"] == len(NESTED[key])
    assert e["ETag"] == head["ETag"]
    assert abs((e["LastModified"] - head["LastModified"]).total_seconds()) < 1.0
    assert client.ls(path, detail=False) == [f"{tree}/{key}"]


def test_missing_bucket(client: s3turbo.Client) -> None:
    name = "s3turbo-no-such-bucket-4f1c2a"
    for path in (name, f"{name}/", f"{name}/some/prefix", f"s3://{name}/x"):
        with pytest.raises(FileNotFoundError) as ei:
            client.ls(path)
        assert name in str(ei.value)
    with pytest.raises(FileNotFoundError):
        client.ls(name, detail=False)


@pytest.mark.parametrize("prefix", ["nope", "nope/", "a/nope", "a/b/c/nope/", "a/to", "a/b/mid.txt/", "a/b/c/leaf"])
def test_nonexistent_prefix(client: s3turbo.Client, tree: str, prefix: str) -> None:
    # "a/to" and "a/b/c/leaf" are string prefixes of existing keys, but neither
    # objects nor "directories".
    with pytest.raises(FileNotFoundError) as ei:
        client.ls(f"{tree}/{prefix}")
    assert prefix.rstrip("/") in str(ei.value)


def test_empty_bucket(client: s3turbo.Client, bucket: str) -> None:
    assert client.ls(bucket) == []
    assert client.ls(f"s3://{bucket}/", detail=False) == []


def test_bad_paths(client: s3turbo.Client) -> None:
    with pytest.raises(ValueError):
        client.ls("")
    with pytest.raises(ValueError):
        client.ls("s3://")
    with pytest.raises(TypeError):
        client.ls(123)  # type: ignore[arg-type]


# Characters that need care in URLs, XML or S3's url-encoded listings.
SPECIAL = [" ", "é", "e\u0301", "日本", "😀", "+", "%", "%41", "=", "&", "?", "#", "~", "'", '"', "<>", ";:,", "!*()", "\n", "\r\t"]
@pytest.mark.parametrize(
    "ch",
    SPECIAL,
    ids=lambda c: "".join(ch if ch.isascii() and ch.isprintable() and ch != " " else f"U+{ord(ch):04X}" for ch in c),
)
def test_special_characters(client: s3turbo.Client, s3: Any, bucket: str, ch: str) -> None:
    objects = {
        f"{ch}": b"0",
        f"x{ch}y.txt": b"12",
        f"d{ch}/f{ch}": b"345",
        f"d{ch}/sub{ch}/g": b"6789",
        "plain": b"p",
    }
    put_many(s3, bucket, objects, threads=5)
    root = boto3_ls(s3, bucket, "")
    assert {e["name"] for e in root} == {
        f"{bucket}/{ch}", f"{bucket}/x{ch}y.txt", f"{bucket}/plain", f"{bucket}/d{ch}"}
    assert_ls_equal(client.ls(bucket), root)
    assert_ls_equal(client.ls(f"{bucket}/d{ch}"), boto3_ls(s3, bucket, f"d{ch}"))
    assert_ls_equal(client.ls(f"s3://{bucket}/d{ch}/"), boto3_ls(s3, bucket, f"d{ch}/"))
    assert client.ls(f"{bucket}/d{ch}/sub{ch}", detail=False) == [f"{bucket}/d{ch}/sub{ch}/g"]
    # A path naming an object with the character returns that object.
    (e,) = client.ls(f"{bucket}/x{ch}y.txt")
    assert e["name"] == f"{bucket}/x{ch}y.txt" and e["size"] == 2
