"""client.index_tar compared with Python's tarfile."""

from __future__ import annotations

import io
import json
import os
import random
import re
import shutil
import struct
import subprocess
import tarfile
from pathlib import Path
from typing import Any, Callable

import pytest
import zstandard

import s3turbo
from helpers import (
    ROW_KEYS, Member, RelayProxy, assert_rows_equal, compress, member_contents, make_tar, tarfile_rows,
)

T0 = 1_700_000_000
EXT = {"none": ".tar", "gzip": ".tar.gz", "zstd": ".tar.zst"}
COMPRESSIONS = list(EXT)


def _data(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def basic_members() -> list[Member]:
    """Every member type, sizes around the 512-byte block, unicode and odd modes."""
    return [
        Member("d", type=tarfile.DIRTYPE, mode=0o755),
        Member("d/sub", type=tarfile.DIRTYPE, mode=0o700, mtime=T0 + 1),
        Member("d/empty.txt", b""),
        Member("d/one.bin", b"x", mode=0o600),
        Member("d/sub/511.bin", _data(511, 1)),
        Member("d/sub/512.bin", _data(512, 2)),
        Member("d/sub/513.bin", _data(513, 3), mode=0o4755),
        Member("d/10000.bin", _data(10000, 4), mode=0o1777, mtime=T0 + 12345),
        Member("ünïcödé/日本語.txt", "こんにちは".encode()),
        Member("ünïcödé", type=tarfile.DIRTYPE),
        Member("emoji 😀 name.bin", _data(100, 5)),
        Member("with space/and'quote.txt", b"q"),
        Member("link-to-file", type=tarfile.SYMTYPE, linkname="d/one.bin", mode=0o777),
        Member("link-to-dir", type=tarfile.SYMTYPE, linkname="d/sub"),
        Member("dangling", type=tarfile.SYMTYPE, linkname="../nowhere/ünï"),
        Member("hard", type=tarfile.LNKTYPE, linkname="d/10000.bin"),
        Member("fifo", type=tarfile.FIFOTYPE, mode=0o600),
        Member("dev/null", type=tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666),
        Member("dev/sda", type=tarfile.BLKTYPE, devmajor=8, devminor=0, mode=0o660),
        Member("last.bin", _data(1025, 6), mtime=0),
    ]


def long_members() -> list[Member]:
    """Names and link targets over 100 and over 256 bytes."""
    deep = "/".join(["segment-%02d" % i for i in range(30)])  # ~330 chars
    assert len(deep) > 256
    mid = "m" * 60 + "/" + "n" * 80  # 141 chars: fits ustar prefix+name
    return [
        Member("x" * 99 + ".bin", _data(10, 7)),
        Member("y" * 100, _data(11, 8)),
        Member("z" * 101, _data(12, 9)),
        Member(mid, _data(700, 10)),
        Member(deep, type=tarfile.DIRTYPE),
        Member(deep + "/file-" + "é" * 60 + ".txt", _data(3000, 11)),
        Member("long-symlink", type=tarfile.SYMTYPE, linkname="t" * 150),
        Member("long-hardlink-" + "h" * 120, type=tarfile.LNKTYPE, linkname="z" * 101),
        Member("日本" * 60, _data(5, 12)),  # 120 chars, 360 UTF-8 bytes
        Member("neg-mtime", b"n", mtime=-86400 * 365),
        Member("after", b"end"),
    ]


def pax_extra_members() -> list[Member]:
    """PAX-only features: fractional and negative mtimes, path override, extra records."""
    return [
        Member("frac-mtime", b"f", mtime=T0 + 0.75),
        Member("neg-frac-mtime", b"g", mtime=-1000.5),
        Member("short", b"overridden", pax_headers={"path": "pax/overridden-name.txt"}),
        Member("commented", b"c", pax_headers={"comment": "x" * 1000}),
        Member("pax-dir/", type=tarfile.DIRTYPE, pax_headers={"path": "pax-dir-from-record/"}),
        Member("link", type=tarfile.SYMTYPE, linkname="short", pax_headers={"linkpath": "pax/overridden-name.txt"}),
        Member("big-mtime", b"b", mtime=8**11 + 5),  # does not fit the octal field
        Member("tail", _data(2000, 13)),
    ]


def edge_members() -> list[Member]:
    """Old-style and unusual typeflags, control characters and quotes in names."""
    return [
        Member("oldstyle.txt", b"old regular", type=tarfile.AREGTYPE),
        Member("olddir/", type=tarfile.AREGTYPE),  # V7 directory: regular file ending in "/"
        Member("contiguous.bin", _data(600, 14), type=tarfile.CONTTYPE),
        Member('quote"name', b"1"),
        Member("back\\slash", b"2"),
        Member("new\nline", b"3"),
        Member("tab\tname", b"4"),
        Member("ctrl\x01\x7f", b"5"),
        Member("sep\u2028\u2029", b"6"),
        Member("<html>&amp;", b"7"),
    ]


def many_members(n: int = 10_000) -> list[Member]:
    rnd = random.Random(99)
    out = []
    for i in range(n):
        if i % 100 == 0:
            out.append(Member(f"dir{i // 100:03d}", type=tarfile.DIRTYPE))
        out.append(Member(f"dir{i // 100:03d}/f{i:05d}", rnd.randbytes(rnd.randrange(0, 1200)), mtime=T0 + i))
    return out


def strip_end_blocks(tar: bytes) -> bytes:
    """Remove the end-of-archive zero blocks (and record padding)."""
    rows = tarfile_rows(tar, "")
    last = rows[-1]
    end = last["data_offset"] + (last["size"] if last["type"] == "file" else 0)
    return tar[: (end + 511) // 512 * 512]


ARCHIVES: dict[str, Callable[[], bytes]] = {
    "gnu-basic": lambda: make_tar(basic_members(), tarfile.GNU_FORMAT),
    "pax-basic": lambda: make_tar(basic_members(), tarfile.PAX_FORMAT),
    "ustar-basic": lambda: make_tar(basic_members(), tarfile.USTAR_FORMAT),
    "gnu-long": lambda: make_tar(long_members(), tarfile.GNU_FORMAT),
    "pax-long": lambda: make_tar(long_members(), tarfile.PAX_FORMAT),
    "pax-extras": lambda: make_tar(pax_extra_members(), tarfile.PAX_FORMAT),
    "pax-global": lambda: make_tar(basic_members()[:6], tarfile.PAX_FORMAT, pax_headers={"comment": "global"}),
    "gnu-edge": lambda: make_tar(edge_members(), tarfile.GNU_FORMAT),
    "pax-edge": lambda: make_tar(edge_members(), tarfile.PAX_FORMAT),
    "gnu-latin1-names": lambda: make_tar([Member("caf\xe9.txt", b"latin"), Member("na\xefve/", type=tarfile.DIRTYPE)],
                                         tarfile.GNU_FORMAT, encoding="latin-1"),
    "no-end-blocks": lambda: strip_end_blocks(make_tar(basic_members(), tarfile.PAX_FORMAT)),
    "trailing-garbage": lambda: make_tar(basic_members()[:5], tarfile.GNU_FORMAT) + _data(3000, 15),
    "empty": lambda: make_tar([], tarfile.PAX_FORMAT),
    "big-member": lambda: make_tar([
        Member("small-before", b"a" * 100),
        Member("big.bin", _data(5 * (1 << 20) + 3, 16)),  # larger than the engine's 4 MiB seek threshold
        Member("small-after", b"b" * 100),
    ], tarfile.GNU_FORMAT),
}
SMALL = [n for n in ARCHIVES if n != "big-member"]


class Archives:
    """Archives built lazily, written to a temp dir and uploaded to S3 on demand."""

    def __init__(self, root: Path, s3: Any, bucket: str) -> None:
        self.root, self.s3, self.bucket = root, s3, bucket
        self._tar: dict[str, bytes] = {}
        self._local: dict[tuple[str, str], Path] = {}
        self._s3: set[tuple[str, str]] = set()

    def tar(self, name: str) -> bytes:
        if name not in self._tar:
            self._tar[name] = ARCHIVES[name]() if name in ARCHIVES else make_tar(many_members())
        return self._tar[name]

    def local(self, name: str, comp: str) -> Path:
        if (name, comp) not in self._local:
            p = self.root / f"{name}{EXT[comp]}"
            p.write_bytes(compress(self.tar(name), comp))
            self._local[(name, comp)] = p
        return self._local[(name, comp)]

    def key(self, name: str, comp: str) -> str:
        """bucket/key of the archive in S3."""
        key = f"archives/{name}{EXT[comp]}"
        if (name, comp) not in self._s3:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=self.local(name, comp).read_bytes())
            self._s3.add((name, comp))
        return f"{self.bucket}/{key}"


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory, s3: Any, module_bucket: str) -> Archives:
    return Archives(tmp_path_factory.mktemp("archives"), s3, module_bucket)


def check_data_offsets(tar: bytes, rows: list[dict[str, Any]]) -> None:
    """Every file member's bytes sit at data_offset in the uncompressed tar."""
    contents = member_contents(tar)
    files = [r for r in rows if r["type"] == "file"]
    assert len(files) == len(contents)
    for r in files:
        assert tar[r["data_offset"] : r["data_offset"] + r["size"]] == contents[r["header_offset"]], r["filename"]


# -- local archives -----------------------------------------------------------


@pytest.mark.parametrize("comp", COMPRESSIONS)
@pytest.mark.parametrize("name", SMALL)
def test_local_matches_tarfile(client: s3turbo.Client, archives: Archives, name: str, comp: str) -> None:
    path = str(archives.local(name, comp))
    tar = archives.tar(name)
    expected = tarfile_rows(tar, path)
    if name != "empty":
        assert expected, "reference archive has no members"
    rows = client.index_tar(path)
    assert_rows_equal(rows, expected)
    check_data_offsets(tar, rows)


def test_row_types_and_values(client: s3turbo.Client, archives: Archives) -> None:
    """Independent of tarfile: spot checks of the basic archive's rows."""
    rows = {r["filename"]: r for r in client.index_tar(archives.local("gnu-basic", "none"))}
    assert rows["d"]["type"] == "dir" and rows["d"]["mode"] == 0o755 and rows["d"]["size"] == 0
    assert rows["d/sub/513.bin"]["type"] == "file" and rows["d/sub/513.bin"]["size"] == 513
    assert rows["d/sub/513.bin"]["mode"] == 0o4755
    assert rows["d/10000.bin"]["mode"] == 0o1777 and rows["d/10000.bin"]["mtime"] == T0 + 12345
    assert rows["link-to-file"]["type"] == "symlink" and rows["link-to-file"]["linkname"] == "d/one.bin"
    assert rows["hard"]["type"] == "hardlink" and rows["hard"]["linkname"] == "d/10000.bin"
    assert rows["fifo"]["type"] == "fifo"
    assert rows["dev/null"]["type"] == "char"
    assert rows["dev/sda"]["type"] == "block"
    assert rows["ünïcödé/日本語.txt"]["size"] == len("こんにちは".encode())
    assert rows["d"]["header_offset"] == 0 and rows["d"]["data_offset"] == 512
    assert all(r["header_offset"] % 512 == 0 and r["data_offset"] % 512 == 0 for r in rows.values())
    assert all(isinstance(r["mtime"], int) for r in rows.values())


def test_pax_extras_values(client: s3turbo.Client, archives: Archives) -> None:
    rows = {r["filename"]: r for r in client.index_tar(archives.local("pax-extras", "none"))}
    assert rows["frac-mtime"]["mtime"] == T0
    assert rows["neg-frac-mtime"]["mtime"] == -1001
    assert "pax/overridden-name.txt" in rows and "short" not in rows
    assert rows["pax-dir-from-record"]["type"] == "dir"
    assert rows["link"]["linkname"] == "pax/overridden-name.txt"
    assert rows["big-mtime"]["mtime"] == 8**11 + 5


def test_long_names(client: s3turbo.Client, archives: Archives) -> None:
    for fmt in ("gnu-long", "pax-long"):
        rows = client.index_tar(archives.local(fmt, "none"))
        names = [r["filename"] for r in rows]
        assert "z" * 101 in names
        assert any(len(n) > 256 for n in names)
        first_long = rows[names.index("z" * 101)]
        # The member's first header is the extended ('L' or 'x') header.
        assert first_long["data_offset"] - first_long["header_offset"] >= 3 * 512


def test_global_header_is_not_a_member(client: s3turbo.Client, archives: Archives) -> None:
    rows = client.index_tar(archives.local("pax-global", "none"))
    assert rows[0]["filename"] == "d"
    assert rows[0]["header_offset"] == 1024  # after the global header and its one data block
    assert len(rows) == 6


def test_pax_global_records_mid_archive(client: s3turbo.Client, tmp_path: Path) -> None:
    """A global header between members applies to the members after it (as in tarfile)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name in ("before", "after", "own-mtime"):
            if name == "after":
                g = tarfile.TarInfo._create_pax_generic_header(  # type: ignore[attr-defined]
                    {"mtime": "999.5", "linkpath": "global-link"}, tarfile.XGLTYPE, "utf-8")
                tf.fileobj.write(g)  # type: ignore[union-attr]
                tf.offset += len(g)
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime = 1, T0
            if name == "own-mtime":
                ti.pax_headers = {"mtime": "5"}
            tf.addfile(ti, io.BytesIO(b"x"))
    p = tmp_path / "global.tar"
    p.write_bytes(buf.getvalue())
    rows = client.index_tar(str(p))
    assert_rows_equal(rows, tarfile_rows(buf.getvalue(), str(p)))
    assert [r["mtime"] for r in rows] == [T0, 999, 5]
    assert [r["linkname"] for r in rows] == ["", "global-link", "global-link"]


@pytest.mark.parametrize("records", [{"mtime": "garbage"}, {"mtime": "garbage", "path": "renamed"},
                                     {"uid": "x", "mtime": "1234567"}])
def test_pax_global_unparsable_record_like_tarfile(client: s3turbo.Client, tmp_path: Path,
                                                   records: dict[str, str]) -> None:
    """A PAX global header with a record that does not parse as its field
    (mtime='garbage') was dropped whole by Go's archive/tar, every record
    with it: the rows kept the ustar mtime (tarfile: 0) and names."""
    tar = make_tar([Member("a", b"x"), Member("b", b"y")], tarfile.PAX_FORMAT, pax_headers=records)
    p = tmp_path / "g.tar"
    p.write_bytes(tar)
    rows = client.index_tar(str(p))
    assert_rows_equal(rows, tarfile_rows(tar, str(p)))


def test_empty_archive(client: s3turbo.Client, archives: Archives) -> None:
    assert client.index_tar(archives.local("empty", "gzip")) == []


def test_big_member_local_and_s3(client: s3turbo.Client, archives: Archives) -> None:
    tar = archives.tar("big-member")
    for comp in ("none", "zstd"):
        path = str(archives.local("big-member", comp))
        rows = client.index_tar(path)
        assert_rows_equal(rows, tarfile_rows(tar, path))
        check_data_offsets(tar, rows)
        key = archives.key("big-member", comp)
        assert_rows_equal(client.index_tar(key), tarfile_rows(tar, f"s3://{key}"))


@pytest.mark.slow
def test_ten_thousand_members(client: s3turbo.Client, archives: Archives) -> None:
    tar = archives.tar("many")
    for comp in ("none", "zstd"):
        path = str(archives.local("many", comp))
        rows = client.index_tar(path)
        assert len(rows) == 10_100
        assert_rows_equal(rows, tarfile_rows(tar, path))
        if comp == "none":
            check_data_offsets(tar, rows)
    key = archives.key("many", "gzip")
    rows = client.index_tar(f"s3://{key}")
    assert_rows_equal(rows, tarfile_rows(tar, f"s3://{key}"))


def test_compression_detected_by_magic_not_name(client: s3turbo.Client, archives: Archives, tmp_path: Path) -> None:
    tar = archives.tar("pax-basic")
    for comp, misleading in (("gzip", "x.tar"), ("zstd", "x.tar.gz"), ("none", "x.tar.zst")):
        p = tmp_path / misleading
        p.write_bytes(compress(tar, comp))
        assert_rows_equal(client.index_tar(str(p)), tarfile_rows(tar, str(p)))


def test_multi_member_gzip_and_multi_frame_zstd(client: s3turbo.Client, archives: Archives, tmp_path: Path) -> None:
    tar = archives.tar("pax-basic")
    cut = 5000  # an arbitrary byte, not a block boundary
    gz = tmp_path / "multi.tar.gz"
    gz.write_bytes(compress(tar[:cut], "gzip") + compress(tar[cut:], "gzip"))
    zs = tmp_path / "multi.tar.zst"
    skippable = struct.pack("<II", 0x184D2A50, 4) + b"skip"
    zs.write_bytes(compress(tar[:cut], "zstd") + skippable + compress(tar[cut:], "zstd"))
    lead = tmp_path / "skippable-first.tar.zst"
    lead.write_bytes(skippable + compress(tar, "zstd"))
    for p in (gz, zs, lead):
        assert_rows_equal(client.index_tar(str(p)), tarfile_rows(tar, str(p)))


def test_streaming_zstd_without_content_size(client: s3turbo.Client, archives: Archives, tmp_path: Path) -> None:
    tar = archives.tar("gnu-long")
    p = tmp_path / "stream.tar.zst"
    cctx = zstandard.ZstdCompressor(write_content_size=False)
    with open(p, "wb") as f, cctx.stream_writer(f) as w:
        for i in range(0, len(tar), 1000):
            w.write(tar[i : i + 1000])
    assert_rows_equal(client.index_tar(str(p)), tarfile_rows(tar, str(p)))


def test_pathlike_arguments(client: s3turbo.Client, archives: Archives, tmp_path: Path) -> None:
    p = archives.local("gnu-basic", "gzip")
    rows = client.index_tar(p)
    assert_rows_equal(rows, tarfile_rows(archives.tar("gnu-basic"), str(p)))
    out = tmp_path / "out.jsonl"
    assert client.index_tar(p, out) == len(rows)
    assert out.exists()


def test_relative_local_path(client: s3turbo.Client, archives: Archives, monkeypatch: pytest.MonkeyPatch) -> None:
    p = archives.local("gnu-basic", "none")
    monkeypatch.chdir(p.parent)
    rows = client.index_tar(p.name)
    assert_rows_equal(rows, tarfile_rows(archives.tar("gnu-basic"), p.name))


def _gnu_tar() -> str | None:
    tar = shutil.which("tar")
    if not tar:
        return None
    out = subprocess.run([tar, "--version"], capture_output=True, text=True).stdout
    return tar if "GNU tar" in out else None


@pytest.mark.skipif(_gnu_tar() is None, reason="needs GNU tar to write sparse members")
@pytest.mark.parametrize("fmt", ["gnu", "oldgnu", "posix-0.0", "posix-0.1", "posix-1.0"])
def test_sparse_members_written_by_gnu_tar(fmt: str, client: s3turbo.Client, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    size = 3 * (1 << 20) + 17
    with open(src / "sparse.bin", "wb") as f:
        f.truncate(size)
        f.seek(1 << 20)
        f.write(b"hello")
        f.seek(size - 4)
        f.write(b"tail")
    (src / "after.txt").write_bytes(b"plain file after the sparse one\n")
    archive = tmp_path / f"sparse-{fmt}.tar"
    args = ["--format=" + fmt.split("-")[0]]
    if fmt.startswith("posix"):
        args.append("--sparse-version=" + fmt.split("-")[1])
    subprocess.run([_gnu_tar(), "--sparse", *args, "-cf", str(archive), "-C", str(src), "sparse.bin", "after.txt"],
                   check=True)
    tar = archive.read_bytes()
    rows = client.index_tar(str(archive))
    assert_rows_equal(rows, tarfile_rows(tar, str(archive)))
    by_name = {r["filename"]: r for r in rows}
    assert by_name["sparse.bin"]["size"] == size  # logical size, as tarfile reports it
    after = by_name["after.txt"]
    assert tar[after["data_offset"] : after["data_offset"] + after["size"]] == (src / "after.txt").read_bytes()
    for comp in ("gzip", "zstd"):
        p = tmp_path / f"sparse-{fmt}{EXT[comp]}"
        p.write_bytes(compress(tar, comp))
        assert_rows_equal(client.index_tar(str(p)), tarfile_rows(tar, str(p)))


# -- archives in S3 -----------------------------------------------------------


@pytest.mark.parametrize("comp", COMPRESSIONS)
@pytest.mark.parametrize("name", ["gnu-basic", "pax-long", "pax-extras", "gnu-edge", "empty", "no-end-blocks"])
def test_s3_matches_local(client: s3turbo.Client, archives: Archives, name: str, comp: str) -> None:
    local = client.index_tar(str(archives.local(name, comp)))
    key = archives.key(name, comp)
    for path in (key, f"s3://{key}"):
        rows = client.index_tar(path)
        # S3 sources are named canonically, with or without the scheme in the argument.
        assert [r["archive"] for r in rows] == [f"s3://{key}"] * len(rows)
        assert [{**r, "archive": None} for r in rows] == [{**r, "archive": None} for r in local]
        assert_rows_equal(rows, tarfile_rows(archives.tar(name), f"s3://{key}"))


class FaultProxy(RelayProxy):
    """Relays requests to an S3 server; while ``faults`` is above zero, a GET
    whose body is longer than ``after`` bytes sends its full Content-Length
    but only ``after`` bytes, then closes the connection with a reset
    ("reset") or cleanly ("truncate"), and ``faults`` counts down. Counts
    the GETs."""

    def __init__(self, upstream: str, kind: str, after: int, faults: int = 1) -> None:
        self.kind, self.after, self.faults, self.gets = kind, after, faults, 0
        super().__init__(upstream)

    def deliver(self, h: Any, resp: Any, data: bytes) -> None:
        import socket

        if h.command != "GET":
            return super().deliver(h, resp, data)
        self.gets += 1
        if resp.status // 100 != 2 or len(data) <= self.after or self.faults <= 0:
            return super().deliver(h, resp, data)
        self.faults -= 1
        self.send_head(h, resp, data)
        h.wfile.write(data[:self.after])
        h.wfile.flush()
        h.close_connection = True
        if self.kind == "reset":
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()
        else:
            h.connection.shutdown(socket.SHUT_RDWR)


@pytest.mark.parametrize("kind", ["reset", "truncate"])
@pytest.mark.parametrize("comp", COMPRESSIONS)
def test_s3_body_failing_half_way_is_resumed(endpoint: Any, s3: Any, bucket: str, comp: str, kind: str) -> None:
    """A GET body of the archive failing half-way is resumed where it stopped
    (one more GET) and the index is tarfile's: it failed with "read error at
    uncompressed byte offset ...", whatever was transferred lost."""
    if not endpoint.url.startswith("http://"):
        pytest.skip("the fault proxy relays plain HTTP only")
    tar = make_tar(basic_members() + [Member("random.bin", _data(300_000, 99))] + long_members())
    data = compress(tar, comp)
    key = f"fault/a{EXT[comp]}"
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    proxy = FaultProxy(endpoint.url, kind, after=len(data) // 2)
    try:
        c = endpoint.client(endpoint_url=proxy.url, retries=3)
        rows = c.index_tar(f"s3://{bucket}/{key}")
        assert proxy.faults == 0, "the fault was not injected"
        assert proxy.gets == 2
        assert_rows_equal(rows, tarfile_rows(tar, f"s3://{bucket}/{key}"))
    finally:
        proxy.close()


# -- JSON Lines output ----------------------------------------------------------


def read_jsonl(raw: bytes) -> list[dict[str, Any]]:
    if raw[:4] == b"\x28\xb5\x2f\xfd":
        raw = zstandard.ZstdDecompressor().decompressobj().decompress(raw)
    text = raw.decode("utf-8")
    assert text == "" or text.endswith("\n")
    out = []
    for line in text.split("\n")[:-1]:  # not splitlines(): U+2028, U+0085 etc. may appear inside strings
        obj = json.loads(line)
        assert list(obj) == list(ROW_KEYS), f"key order: {list(obj)}"
        out.append(obj)
    return out


def json_safe(row: dict[str, Any]) -> dict[str, Any]:
    """A row as it must come back from JSON: invalid UTF-8 becomes U+FFFD."""
    fix = lambda s: s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")  # noqa: E731
    return {k: fix(v) if isinstance(v, str) else v for k, v in row.items()}


def without_archive(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "archive"} for r in rows]


@pytest.mark.parametrize("dest", ["local.jsonl", "local.jsonl.zst", "s3.jsonl", "s3.jsonl.zst"])
@pytest.mark.parametrize("source", ["local", "s3"])
@pytest.mark.parametrize("name", ["pax-basic", "gnu-edge", "gnu-latin1-names", "empty"])
def test_output_jsonl(client: s3turbo.Client, s3: Any, module_bucket: str, archives: Archives, tmp_path: Path,
                      name: str, source: str, dest: str) -> None:
    src = str(archives.local(name, "gzip")) if source == "local" else "s3://" + archives.key(name, "gzip")
    rows = client.index_tar(src)
    if dest.startswith("local"):
        out = tmp_path / f"index-{name}.{dest.split('.', 1)[1]}"
        n = client.index_tar(src, str(out))
        raw = out.read_bytes()
        assert sorted(os.listdir(tmp_path)) == [out.name], "temporary files left behind"
    else:
        key = f"indexes/{name}-{source}.{dest.split('.', 1)[1]}"
        n = client.index_tar(src, f"s3://{module_bucket}/{key}")
        raw = s3.get_object(Bucket=module_bucket, Key=key)["Body"].read()
    assert isinstance(n, int) and n == len(rows)
    assert (raw[:4] == b"\x28\xb5\x2f\xfd") == dest.endswith(".zst"), "zstd iff the name ends in .zst"
    parsed = read_jsonl(raw)
    assert parsed == [json_safe(r) for r in rows]
    if name == "gnu-edge":
        plain = raw if not dest.endswith(".zst") else zstandard.ZstdDecompressor().decompressobj().decompress(raw)
        assert b'"filename":"<html>&amp;"' in plain, "'<', '>' and '&' must not be HTML-escaped"
        assert b'"filename":"new\\nline"' in plain


def test_output_archive_field_for_s3_source_with_scheme(client: s3turbo.Client, archives: Archives,
                                                         tmp_path: Path) -> None:
    src = "s3://" + archives.key("pax-basic", "none")
    out = tmp_path / "x.jsonl"
    client.index_tar(src, str(out))
    assert {r["archive"] for r in read_jsonl(out.read_bytes())} == {src}


def test_output_archive_field_matches_rows_for_plain_s3_path(client: s3turbo.Client, archives: Archives,
                                                              tmp_path: Path) -> None:
    src = archives.key("pax-basic", "none")
    rows = client.index_tar(src)
    out = tmp_path / "x.jsonl"
    client.index_tar(src, str(out))
    assert [r["archive"] for r in read_jsonl(out.read_bytes())] == [r["archive"] for r in rows]


def test_output_overwrites_existing(client: s3turbo.Client, archives: Archives, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("old content that is longer than nothing\n" * 1000)
    n = client.index_tar(archives.local("gnu-basic", "none"), str(out))
    parsed = read_jsonl(out.read_bytes())
    assert len(parsed) == n == len(basic_members())


def test_output_of_many_members_to_s3(client: s3turbo.Client, s3: Any, module_bucket: str,
                                      archives: Archives) -> None:
    """Large enough (several MB of JSON) to need a multipart upload."""
    src = str(archives.local("many", "zstd"))
    n = client.index_tar(src, f"s3://{module_bucket}/indexes/many.jsonl")
    raw = s3.get_object(Bucket=module_bucket, Key="indexes/many.jsonl")["Body"].read()
    assert n == 10_100
    parsed = read_jsonl(raw)
    assert without_archive(parsed) == without_archive(tarfile_rows(archives.tar("many"), src))


def test_output_to_missing_local_directory(client: s3turbo.Client, archives: Archives, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        client.index_tar(archives.local("gnu-basic", "none"), str(tmp_path / "no" / "such" / "dir" / "x.jsonl"))


# -- corrupt archives -----------------------------------------------------------


def corrupt_variants(archives: Archives) -> dict[str, bytes]:
    tar = archives.tar("gnu-basic")
    rows = tarfile_rows(tar, "")
    big = next(r for r in rows if r["size"] == 10000)
    second = rows[1]
    last = rows[-1]
    bad_checksum = bytearray(tar)
    bad_checksum[second["header_offset"] + 5] ^= 0x20  # a name byte: checksum no longer matches
    gz = compress(tar, "gzip")
    zs = compress(tar, "zstd")
    bad_crc = bytearray(gz)
    bad_crc[-6] ^= 0xFF
    return {
        "cut-in-member-data": tar[: big["data_offset"] + 4000],
        "cut-in-header": tar[: second["header_offset"] + 100],
        "cut-in-padding-of-last-member": tar[: last["data_offset"] + last["size"] + 10],
        "cut-in-data.gz": compress(tar[: big["data_offset"] + 4000], "gzip"),
        "cut-in-data.zst": compress(tar[: big["data_offset"] + 4000], "zstd"),
        "truncated-gzip-stream": gz[: len(gz) // 2],
        "truncated-zstd-stream": zs[: len(zs) // 2],
        "gzip-bad-crc": bytes(bad_crc),
        "bad-header-checksum": bytes(bad_checksum),
        "garbage": _data(8192, 17),
        "garbage-with-gzip-magic": b"\x1f\x8b" + _data(8190, 18),
        "garbage-with-zstd-magic": b"\x28\xb5\x2f\xfd" + _data(8188, 19),
        "zero-bytes": b"",
        "text-file": b"hello, this is not a tar archive\n" * 100,
    }


CORRUPT = ["cut-in-member-data", "cut-in-header", "cut-in-padding-of-last-member", "cut-in-data.gz",
           "cut-in-data.zst", "truncated-gzip-stream", "truncated-zstd-stream", "gzip-bad-crc",
           "bad-header-checksum", "garbage", "garbage-with-gzip-magic", "garbage-with-zstd-magic", "zero-bytes",
           "text-file"]


def assert_corrupt(exc: BaseException, archive_name: str) -> None:
    assert isinstance(exc, s3turbo.CorruptDataError)
    assert isinstance(exc, ValueError)
    msg = str(exc)
    assert archive_name in msg, msg
    assert re.search(r"offset \d+", msg), msg


@pytest.mark.parametrize("variant", CORRUPT)
def test_corrupt_local(variant: str, client: s3turbo.Client, archives: Archives, tmp_path: Path) -> None:
    p = tmp_path / f"bad-{variant}.tar"
    p.write_bytes(corrupt_variants(archives)[variant])
    with pytest.raises(s3turbo.CorruptDataError) as ei:
        client.index_tar(str(p))
    assert_corrupt(ei.value, str(p))
    with pytest.raises(ValueError):  # catchable as ValueError too
        client.index_tar(str(p))


@pytest.mark.parametrize("variant", ["cut-in-member-data", "cut-in-header", "truncated-gzip-stream", "garbage"])
def test_corrupt_s3(variant: str, client: s3turbo.Client, s3: Any, bucket: str, archives: Archives) -> None:
    key = f"bad/{variant}.tar"
    s3.put_object(Bucket=bucket, Key=key, Body=corrupt_variants(archives)[variant])
    for path in (f"{bucket}/{key}", f"s3://{bucket}/{key}"):
        with pytest.raises(s3turbo.CorruptDataError) as ei:
            client.index_tar(path)
        assert_corrupt(ei.value, key)


def test_truncation_offset_is_reported(client: s3turbo.Client, archives: Archives, tmp_path: Path) -> None:
    tar = archives.tar("gnu-basic")
    rows = tarfile_rows(tar, "")
    big = next(r for r in rows if r["size"] == 10000)
    cut = big["data_offset"] + 4000
    p = tmp_path / "cut.tar"
    p.write_bytes(tar[:cut])
    with pytest.raises(s3turbo.CorruptDataError) as ei:
        client.index_tar(str(p))
    offsets = [int(x) for x in re.findall(r"offset (\d+)", str(ei.value))]
    assert cut in offsets or big["header_offset"] in offsets, str(ei.value)


@pytest.mark.parametrize("dest", ["local.jsonl", "local.jsonl.zst", "s3.jsonl", "s3.jsonl.zst"])
@pytest.mark.parametrize("variant", ["cut-in-member-data", "truncated-gzip-stream"])
def test_failed_index_leaves_no_output(variant: str, dest: str, client: s3turbo.Client, s3: Any, bucket: str,
                                       archives: Archives, tmp_path: Path) -> None:
    src_dir = tmp_path / "src"
    out_dir = tmp_path / "out"
    src_dir.mkdir()
    out_dir.mkdir()
    src = src_dir / "bad.tar"
    # Big enough that some output would already have been produced.
    tar = archives.tar("many")
    if variant == "cut-in-member-data":
        last_big = [r for r in tarfile_rows(tar, "") if r["size"] > 100][-1]
        src.write_bytes(tar[: last_big["data_offset"] + 50])
    else:
        gz = archives.local("many", "gzip").read_bytes()
        src.write_bytes(gz[: len(gz) - 2000])
    suffix = dest.split(".", 1)[1]
    if dest.startswith("local"):
        out = out_dir / f"index.{suffix}"
        with pytest.raises(s3turbo.CorruptDataError):
            client.index_tar(str(src), str(out))
        assert os.listdir(out_dir) == [], "output or temporary file left behind"
        # A pre-existing output survives a failed run unchanged.
        out.write_bytes(b"previous\n")
        with pytest.raises(s3turbo.CorruptDataError):
            client.index_tar(str(src), str(out))
        assert os.listdir(out_dir) == [out.name]
        assert out.read_bytes() == b"previous\n"
    else:
        key = f"out/index.{suffix}"
        with pytest.raises(s3turbo.CorruptDataError):
            client.index_tar(str(src), f"s3://{bucket}/{key}")
        assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
        uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        assert uploads == [], "multipart upload left open"


# -- missing archives -----------------------------------------------------------


def test_missing_absolute_local_path(client: s3turbo.Client, tmp_path: Path) -> None:
    missing = tmp_path / "missing.tar"
    with pytest.raises(FileNotFoundError) as ei:
        client.index_tar(str(missing))
    assert "missing.tar" in str(ei.value)


@pytest.mark.parametrize("path", ["no-such-dir-x1/missing.tar", "s3turbo-no-such-bucket-77/missing.tar"])
def test_missing_relative_path(path: str, client: s3turbo.Client, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as ei:
        client.index_tar(path)
    assert "missing.tar" in str(ei.value)


def test_missing_key_in_s3(client: s3turbo.Client, bucket: str) -> None:
    for path in (f"{bucket}/missing.tar", f"s3://{bucket}/dir/missing.tar.gz"):
        with pytest.raises(FileNotFoundError) as ei:
            client.index_tar(path)
        assert "missing.tar" in str(ei.value)


def test_bad_source_paths(client: s3turbo.Client) -> None:
    for bad in ("s3://", "s3://bucket-only", "s3://bucket-only/"):
        with pytest.raises(ValueError):
            client.index_tar(bad)
    with pytest.raises(TypeError):
        client.index_tar(42)  # type: ignore[call-overload]
