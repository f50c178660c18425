"""Shared helpers for the s3turbo test suite (not a test module).

Reference implementations live here: boto3-based listings, tarfile-based
tar indexes, archive generators and a concurrent uploader.
"""

from __future__ import annotations

import gzip
import io
import math
import tarfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence

import zstandard

# --------------------------------------------------------------------------
# S3 helpers (boto3 is the reference)
# --------------------------------------------------------------------------


def put_many(s3: Any, bucket: str, objects: Mapping[str, bytes], threads: int = 32) -> None:
    """Upload many objects concurrently with boto3."""

    def put(item: tuple[str, bytes]) -> None:
        s3.put_object(Bucket=bucket, Key=item[0], Body=item[1])

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(put, objects.items()))


def boto3_get(s3: Any, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def boto3_ls(s3: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    """What ``client.ls(bucket/prefix)`` must return, built from boto3's
    ``list_objects_v2(Delimiter="/")`` over all pages.

    Objects come first, then common prefixes (S3's page order concatenated);
    names are ``bucket/key``; prefixes lose their trailing slash (one: the
    folder of "a//b" is "a/"); a directory
    marker equal to the listed prefix itself is not an entry.
    """
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    files: list[dict[str, Any]] = []
    dirs: list[dict[str, Any]] = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        for o in page.get("Contents", []):
            if o["Key"] == prefix:
                continue
            files.append({
                "name": f"{bucket}/{o['Key']}", "size": o["Size"], "type": "file",
                "ETag": o["ETag"], "LastModified": o["LastModified"],
            })
        for p in page.get("CommonPrefixes", []):
            dirs.append({"name": f"{bucket}/{p['Prefix'][:-1]}", "size": 0, "type": "directory"})
    return files + dirs


def assert_ls_equal(got: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    """Compare an s3turbo listing with boto3_ls(): same entries in the same
    order, same sizes/types/ETags, LastModified within a second (UTC-aware)."""
    gn, en = [e["name"] for e in got], [e["name"] for e in expected]
    if gn != en:
        raise AssertionError(
            f"names differ: {len(gn)} vs {len(en)} entries; only in s3turbo: {sorted(set(gn) - set(en))[:10]}; "
            f"only in boto3: {sorted(set(en) - set(gn))[:10]}; first mismatch: "
            f"{next(((i, a, b) for i, (a, b) in enumerate(zip(gn, en)) if a != b), None)}")
    for g, e in zip(got, expected):
        assert g["type"] == e["type"], g["name"]
        assert g["size"] == e["size"], g["name"]
        assert isinstance(g["size"], int)
        if e["type"] == "file":
            assert g["ETag"] == e["ETag"], g["name"]
            lm = g["LastModified"]
            assert lm.tzinfo is not None and lm.utcoffset().total_seconds() == 0, lm
            assert abs((lm - e["LastModified"]).total_seconds()) < 1.0, (g["name"], lm, e["LastModified"])
        else:
            assert "ETag" not in g or not g["ETag"]


# --------------------------------------------------------------------------
# Tar helpers (Python's tarfile is the reference)
# --------------------------------------------------------------------------

TARFILE_TYPES: dict[bytes, str] = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.CONTTYPE: "file",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink",
    tarfile.CHRTYPE: "char",
    tarfile.BLKTYPE: "block",
    tarfile.FIFOTYPE: "fifo",
}

ROW_KEYS = ("archive", "filename", "size", "type", "mode", "mtime", "linkname", "header_offset", "data_offset")


@dataclass
class Member:
    """One archive member to generate."""

    name: str
    data: bytes = b""
    type: bytes = tarfile.REGTYPE
    linkname: str = ""
    mode: int = 0o644
    mtime: float = 1_700_000_000
    devmajor: int = 0
    devminor: int = 0
    pax_headers: dict[str, str] = field(default_factory=dict)


def make_tar(members: Iterable[Member], format: int = tarfile.PAX_FORMAT,
             pax_headers: Optional[dict[str, str]] = None, encoding: str = "utf-8") -> bytes:
    """An uncompressed tar archive holding members, written by tarfile."""
    buf = io.BytesIO()
    kw: dict[str, Any] = {"format": format, "encoding": encoding}
    if pax_headers:
        kw["pax_headers"] = pax_headers
    with tarfile.open(fileobj=buf, mode="w", **kw) as tf:
        for m in members:
            ti = tarfile.TarInfo(m.name)
            ti.type = m.type
            ti.mode = m.mode
            ti.mtime = m.mtime
            ti.linkname = m.linkname
            ti.devmajor, ti.devminor = m.devmajor, m.devminor
            ti.uname, ti.gname = "user", "group"
            if m.pax_headers:
                ti.pax_headers = dict(m.pax_headers)
            if m.type in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE):
                ti.size = len(m.data)
                tf.addfile(ti, io.BytesIO(m.data))
            else:
                tf.addfile(ti)
    return buf.getvalue()


def compress(data: bytes, kind: str) -> bytes:
    """Compress with gzip / zstd ("none" returns data unchanged)."""
    if kind == "none":
        return data
    if kind == "gzip":
        return gzip.compress(data, compresslevel=6, mtime=0)
    if kind == "zstd":
        return zstandard.ZstdCompressor(level=3).compress(data)
    raise ValueError(kind)


def tarfile_rows(tar_bytes: bytes, archive: str) -> list[dict[str, Any]]:
    """The index rows s3turbo must produce for an (uncompressed) tar, per tarfile."""
    rows = []
    with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tf:
        for m in tf.getmembers():
            rows.append({
                "archive": archive,
                "filename": m.name,
                "size": m.size,
                "type": TARFILE_TYPES.get(m.type, m.type.decode("latin-1")),
                "mode": m.mode,
                "mtime": math.floor(m.mtime),
                "linkname": m.linkname,
                "header_offset": m.offset,
                "data_offset": m.offset_data,
            })
    return rows


def member_contents(tar_bytes: bytes) -> dict[int, bytes]:
    """header offset → content of every regular-file member, per tarfile."""
    out: dict[int, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tf:
        for m in tf.getmembers():
            if m.isreg():
                f = tf.extractfile(m)
                assert f is not None
                out[m.offset] = f.read()
    return out


def assert_rows_equal(got: Sequence[Mapping[str, Any]], expected: Sequence[Mapping[str, Any]]) -> None:
    """Row-by-row comparison with a readable first difference."""
    assert len(got) == len(expected), (len(got), len(expected))
    for i, (g, e) in enumerate(zip(got, expected)):
        assert set(g) == set(ROW_KEYS), sorted(g)
        if dict(g) != dict(e):
            diff = {k: (g.get(k), e.get(k)) for k in ROW_KEYS if g.get(k) != e.get(k)}
            raise AssertionError(f"row {i} ({e['filename']!r}) differs (got, expected): {diff}")


# --------------------------------------------------------------------------
# Multiprocessing worker (must be importable by name in spawned children)
# --------------------------------------------------------------------------


def fetch_in_worker(args: tuple[Any, list[str]]) -> tuple[int, list[bytes]]:
    """Run get_objects in a worker process with a pickled Client."""
    import os

    client, paths = args
    return os.getpid(), [bytes(b) for b in client.get_objects(paths)]


# --------------------------------------------------------------------------
# Listing at scale (test_list.py, test_cli.py)
# --------------------------------------------------------------------------


def populate(s3: Any, root: Optional[str], bucket: str, sizes: Mapping[str, int], threads: int = 64) -> None:
    """Create objects key → size quickly.

    With the suite's own versitygw (``root`` = its posix data directory) the
    files are written straight into the bucket's directory (no ETag then);
    against any other server they are PUT concurrently with boto3.
    """
    if root is None:
        put_many(s3, bucket, {k: b"x" * n for k, n in sizes.items()}, threads=threads)
        return
    import os

    paths = [(os.path.join(root, bucket, *key.split("/")), size) for key, size in sizes.items()]
    for d in sorted({os.path.dirname(p) for p, _ in paths}):
        os.makedirs(d, exist_ok=True)

    def write(chunk: list[tuple[str, int]]) -> None:
        for path, size in chunk:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                if size:
                    os.ftruncate(fd, size)
            finally:
                os.close(fd)

    with ThreadPoolExecutor(8) as pool:  # file creation is syscall-bound: threads overlap it
        list(pool.map(write, [paths[i::8] for i in range(8)]))


def unpopulate(root: Optional[str], bucket: str, keys: Iterable[str]) -> None:
    """Remove what populate() wrote into the posix directory (fast cleanup:
    the bucket fixtures then have little left to delete through S3)."""
    if root is None:
        return
    import os
    import shutil

    for top in {k.split("/", 1)[0] for k in keys}:
        p = os.path.join(root, bucket, top)
        if os.path.isdir(p):
            shutil.rmtree(p, ignore_errors=True)
        elif os.path.exists(p):
            os.remove(p)


def boto3_list(s3: Any, bucket: str, prefix: str = "") -> list[dict[str, Any]]:
    """Every object under prefix (verbatim), via boto3's list_objects_v2
    paginator, as s3turbo's ``list`` entries: what ``client.list(...)`` must
    yield, in key order."""
    out: list[dict[str, Any]] = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            out.append({
                "name": f"{bucket}/{o['Key']}", "size": o["Size"], "type": "file",
                "ETag": o.get("ETag", ""), "LastModified": o["LastModified"],
            })
    return out


def boto3_level(s3: Any, bucket: str, prefix: str = "") -> list[dict[str, Any]]:
    """One level under prefix (verbatim) via list_objects_v2(Delimiter="/"),
    in key order (objects and common prefixes merged, a prefix sorting by its
    string with the "/"), as ``client.list(..., recursive=False)`` entries
    (prefixes lose their "/")."""
    out: list[tuple[str, dict[str, Any]]] = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        for o in page.get("Contents", []):
            out.append((o["Key"], {"name": f"{bucket}/{o['Key']}", "size": o["Size"], "type": "file"}))
        for p in page.get("CommonPrefixes", []):
            out.append((p["Prefix"], {"name": f"{bucket}/{p['Prefix'][:-1]}", "size": 0, "type": "directory"}))
    out.sort(key=lambda kv: kv[0].encode("utf-8"))
    return [e for _, e in out]


def assert_entries_equal(got: Sequence[Mapping[str, Any]], expected: Sequence[Mapping[str, Any]],
                         ordered: bool = True) -> None:
    """Compare ``client.list`` entries with boto3_list(): names (in order
    unless ordered=False), sizes, types, ETags and LastModified (within 1 s).
    Duplicates always fail."""
    gn = [e["name"] for e in got]
    en = [e["name"] for e in expected]
    if len(set(gn)) != len(gn):
        seen: set[str] = set()
        dups = [n for n in gn if n in seen or seen.add(n)]  # type: ignore[func-returns-value]
        raise AssertionError(f"{len(gn) - len(set(gn))} duplicate entries, e.g. {dups[:5]}")
    if not ordered:
        got = sorted(got, key=lambda e: e["name"].encode("utf-8", "surrogateescape"))
        expected = sorted(expected, key=lambda e: e["name"].encode("utf-8", "surrogateescape"))
        gn = [e["name"] for e in got]
        en = [e["name"] for e in expected]
    if gn != en:
        raise AssertionError(
            f"names differ: {len(gn)} vs {len(en)} entries; only in s3turbo: {sorted(set(gn) - set(en))[:5]}; "
            f"only in boto3: {sorted(set(en) - set(gn))[:5]}; first mismatch: "
            f"{next(((i, a, b) for i, (a, b) in enumerate(zip(gn, en)) if a != b), None)}")
    for g, e in zip(got, expected):
        assert g["type"] == e["type"], (g["name"], g["type"], e["type"])
        assert g["size"] == e["size"], (g["name"], g["size"], e["size"])
        if e["type"] == "file" and "ETag" in e:
            assert g["ETag"] == e["ETag"], (g["name"], g["ETag"], e["ETag"])
            lm = g["LastModified"]
            assert lm.tzinfo is not None and lm.utcoffset().total_seconds() == 0, lm
            assert abs((lm - e["LastModified"]).total_seconds()) < 1.0, (g["name"], lm, e["LastModified"])


def du_groups(keys_sizes: Iterable[tuple[str, int]], bucket: str, prefix: str,
              depth: int) -> dict[str, tuple[int, int]]:
    """Reference for ``DuResult.by_prefix``: each key (under the verbatim
    prefix) is attributed to ``bucket/prefix`` plus its first ``depth``
    directory components after the prefix; a key with fewer directory
    components goes to its deepest directory, and one with none to
    ``bucket/prefix`` itself (like coreutils ``du -d``); with an empty prefix
    that is ``bucket``."""
    out: dict[str, tuple[int, int]] = {}
    for key, size in keys_sizes:
        rest = key[len(prefix):]
        dirs = rest.split("/")[:-1][:depth]
        sub = prefix + "".join(d + "/" for d in dirs)
        group = f"{bucket}/{sub}" if sub else bucket  # the bucket itself has no trailing "/"
        s, c = out.get(group, (0, 0))
        out[group] = (s + size, c + 1)
    return out


class SlowListServer:
    """A minimal fake S3 endpoint serving an endless ListObjectsV2 listing of
    keys ``k000000000000``, ``k000000000001``, … (1 byte each) in any bucket.

    Requests that start at the beginning (no continuation token nor
    start-after) are answered at once; every later page only after ``delay``
    seconds (interrupted when the server stops), so a listing is always
    "in progress" after its first page. Credentials are not checked.
    """

    def __init__(self, delay: float = 60.0, page: int = 1000) -> None:
        import bisect
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qs, urlsplit

        self.delay, self.page = delay, page
        self.stopping = threading.Event()
        self.requests = 0
        outer = self

        class Keys:
            def __len__(self) -> int:
                return 10**12

            def __getitem__(self, n: int) -> str:
                return f"k{n:012d}"

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: bytes = b"") -> None:
                self.send_response(code)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_HEAD(self) -> None:
                self._send(200)

            def do_GET(self) -> None:
                outer.requests += 1
                url = urlsplit(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
                after = q.get("continuation-token") or q.get("start-after") or ""
                if after and outer.delay > 0 and outer.stopping.wait(outer.delay):
                    return
                n = bisect.bisect_right(Keys(), after)
                keys = [f"k{i:012d}" for i in range(n, n + outer.page)]
                bucket = url.path.strip("/").split("/")[0]
                parts = [
                    '<?xml version="1.0" encoding="UTF-8"?>',
                    '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
                    f"<Name>{bucket}</Name><Prefix></Prefix><KeyCount>{len(keys)}</KeyCount>",
                    f"<MaxKeys>{outer.page}</MaxKeys><IsTruncated>true</IsTruncated>",
                    f"<NextContinuationToken>{keys[-1]}</NextContinuationToken>",
                ]
                for k in keys:
                    parts.append(f"<Contents><Key>{k}</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>"
                                 "<ETag>&quot;0&quot;</ETag><Size>1</Size>"
                                 "<StorageClass>STANDARD</StorageClass></Contents>")
                parts.append("</ListBucketResult>")
                try:
                    self._send(200, "".join(parts).encode())
                except OSError:
                    pass  # the client went away (cancelled)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> "SlowListServer":
        import threading

        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()



class RelayProxy:
    """Relays HTTP/1.1 requests to an S3 server on loopback, the Host header
    (and so every signature) unchanged, so that a test can change answers as
    a gateway or a network would: ``intercept`` may answer a request itself,
    ``deliver`` writes the server's answer (by default, faithfully).
    Connections it breaks on purpose are not reported."""

    def __init__(self, upstream: str) -> None:
        import http.client
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlsplit

        up = urlsplit(upstream)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _relay(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                if outer.intercept(self):
                    return
                conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
                try:
                    conn.request(self.command, self.path, body=body, headers=dict(self.headers.items()))
                    resp = conn.getresponse()
                    data = resp.read()
                finally:
                    conn.close()
                outer.deliver(self, resp, data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def intercept(self, h: Any) -> bool:
        """Answer request ``h`` (a BaseHTTPRequestHandler) without the
        server; return True if it did. By default, never."""
        return False

    def send_head(self, h: Any, resp: Any, data: bytes) -> None:
        """Send the server's status and headers, with the Content-Length of
        ``data`` (a HEAD's own)."""
        h.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                h.send_header(k, v)
        h.send_header("Content-Length", resp.getheader("Content-Length", "0") if h.command == "HEAD" else str(len(data)))
        h.end_headers()

    def deliver(self, h: Any, resp: Any, data: bytes) -> None:
        """Write the server's answer to the client."""
        self.send_head(h, resp, data)
        if h.command != "HEAD":
            h.wfile.write(data)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
