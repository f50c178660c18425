"""Code written the way README.md and the docstrings show the API, checked
by mypy --strict in `make test` (never run): a hint that rejects documented
use, or promises another type than the call returns, fails the build."""

from __future__ import annotations

import pathlib
from typing import Any

import numpy as np

import s3turbo
from s3turbo import Client, DuResult, ListResult, Writer


def documented_use(c: Client, detail: bool) -> None:
    entries: list[dict[str, Any]] = c.ls("bucket/images")
    names_only: list[str] = c.ls("bucket/images", detail=False)
    either = c.ls("bucket/images", detail=detail)
    print(len(entries), len(names_only), len(either))
    blobs: list[bytearray] = c.get_objects(["bucket/a.jpg", "s3://bucket/b.jpg"])
    print(blobs[0][:4])
    arr = np.empty(1 << 20, dtype=np.uint8)
    c.get_objects_into(["bucket/blob-1MiB"], [arr])
    rows: list[dict[str, Any]] = c.index_tar("s3://bucket/shard-0001.tar.gz")
    n: int = c.index_tar("bucket/shard-0001.tar", output="s3://bucket/index/shard-0001.jsonl.zst")
    n2: int = c.index_tar(pathlib.Path("local.tar"), output=pathlib.Path("out.jsonl"))
    print(rows[0]["name"], n + n2)
    for e in c.list("bucket/logs/", parallel=True):
        size: int = e["size"]
        print(size)
    cols: ListResult = c.list_columns("bucket/")
    names: list[str] = cols.names.tolist()
    first: str = cols.names[0]
    print(names, first)
    c.list_columns("bucket/events/", split_after=cols.names[9_999::10_000])
    d: DuResult = c.du("bucket/", depth=1)
    for prefix, (sz, cnt) in d.by_prefix.items():
        print(prefix, sz + cnt)
    k: int = c.count("bucket/")
    print(k, c.stat(["bucket/a"])[0])
    for s in c.stat(["bucket/a"], on_error="return"):
        if isinstance(s, BaseException):
            continue
        print(s["size"])
    for err in c.delete(["bucket/a"]) + c.copy(["bucket/a"], ["bucket/b"]):
        if err is not None:
            raise err
    etags = c.put_objects(["bucket/a"], [b"x"], attrs={"ContentType": "text/csv", "Metadata": {"k": "v"}})
    print(etags[0])
    c.upload_files(["local.txt", pathlib.Path("other.txt")], ["bucket/a", "bucket/b"])
    c.download_files(["bucket/a"], [pathlib.Path("out/a")], root=pathlib.Path("out"))
    for r in c.get_ranges(["bucket/a", "bucket/a"], [0, -100], [100, None]):
        print(len(r))
    for got in c.get_ranges(["bucket/a"], [0], [None], on_error="return"):
        print(got if isinstance(got, BaseException) else len(got))
    for put in c.upload_files(["local.txt"], ["bucket/a"], on_error="return"):
        print(put if isinstance(put, BaseException) else put.strip('"'))
    c.read_range_into("bucket/a", 0, bytearray(10))
    url: str = c.presign("bucket/a", method="PUT")
    print(url, c.list_buckets()[0]["name"])
    w: Writer = c.open_writer("bucket/w", attrs={"ContentType": "text/plain"})
    w.write(b"abc")
    etag: str = w.close()
    with c.open_writer("bucket/w2") as w2:
        w2.write(memoryview(b"abc"))
    print(etag)


documented_use(s3turbo.Client(endpoint_url="http://127.0.0.1:9000", key="k", secret="s"), True)
