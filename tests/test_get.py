"""client.get_objects / get_objects_into compared with boto3's get_object."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

import numpy as np
import pytest

import s3turbo
from helpers import SlowListServer, boto3_get, put_many
from s3turbo.testing import free_port

PART = 64 * 1024  # the smallest part size the engine accepts

# key → size: every interesting position relative to the part size.
SIZES: dict[str, int] = {
    "empty": 0,
    "one": 1,
    "small": 1000,
    "part-minus-1": PART - 1,
    "part": PART,
    "part-plus-1": PART + 1,
    "two-parts": 2 * PART,
    "three-parts-plus": 3 * PART + 123,
    "ten-parts-plus-1": 10 * PART + 1,
    "dir/nested/key.bin": 4096,
}


def payload(key: str, size: int) -> bytes:
    return random.Random(key).randbytes(size)


@pytest.fixture(scope="module")
def data(s3: Any, module_bucket: str) -> dict[str, bytes]:
    """module_bucket filled with SIZES (key → content as uploaded)."""
    objects = {k: payload(k, n) for k, n in SIZES.items()}
    put_many(s3, module_bucket, objects)
    return objects


@pytest.fixture(scope="module")
def small_client(endpoint: Any) -> Iterator[s3turbo.Client]:
    """A client with 64 KiB parts, so that multi-part downloads are cheap."""
    c = endpoint.client(part_size=PART)
    yield c
    c.close()


@pytest.fixture
def dead_client(endpoint: Any) -> Iterator[s3turbo.Client]:
    """A client pointed at a closed port: any request fails with ConnectionError."""
    c = s3turbo.Client(endpoint_url=f"http://127.0.0.1:{free_port()}", key=endpoint.key, secret=endpoint.secret,
                       region=endpoint.region, retries=1, connect_timeout=2)
    yield c
    c.close()


def paths_of(bucket: str, keys: list[str]) -> list[str]:
    return [f"{bucket}/{k}" for k in keys]


# -- correctness -------------------------------------------------------------


@pytest.mark.parametrize("which", ["small-parts", "default", "concurrency-1"])
def test_mixed_sizes_in_one_batch(which: str, small_client: s3turbo.Client, client: s3turbo.Client, endpoint: Any,
                                  s3: Any, module_bucket: str, data: dict[str, bytes]) -> None:
    c = {"small-parts": small_client, "default": client,
         "concurrency-1": endpoint.client(part_size=PART, max_concurrency=1)}[which]
    keys = list(SIZES)
    got = c.get_objects(paths_of(module_bucket, keys))
    assert isinstance(got, list) and len(got) == len(keys)
    for k, b in zip(keys, got):
        assert isinstance(b, bytearray), type(b)
        assert len(b) == SIZES[k], k
        assert b == boto3_get(s3, module_bucket, k) == data[k], k


def test_into_bytearrays(small_client: s3turbo.Client, module_bucket: str, data: dict[str, bytes]) -> None:
    keys = list(SIZES)
    bufs = [bytearray(b"\xee" * SIZES[k]) for k in keys]
    assert small_client.get_objects_into(paths_of(module_bucket, keys), bufs) is None
    for k, b in zip(keys, bufs):
        assert b == data[k], k


@pytest.mark.parametrize("which", ["small-parts", "default"])
def test_into_numpy_uint8(which: str, small_client: s3turbo.Client, client: s3turbo.Client, module_bucket: str,
                          data: dict[str, bytes]) -> None:
    c = small_client if which == "small-parts" else client
    keys = list(SIZES)
    arrays = [np.full(SIZES[k], 0xEE, dtype=np.uint8) for k in keys]
    c.get_objects_into(paths_of(module_bucket, keys), arrays)
    for k, a in zip(keys, arrays):
        assert a.tobytes() == data[k], k


def test_into_numpy_other_dtypes_and_shapes(small_client: s3turbo.Client, module_bucket: str,
                                            data: dict[str, bytes]) -> None:
    keys = ["part", "three-parts-plus", "ten-parts-plus-1", "dir/nested/key.bin"]
    # Views whose nbytes equal the object sizes: float32, 2-D uint8, int16, structured.
    f32 = np.zeros(SIZES["part"] // 4, dtype=np.float32)
    grid = np.zeros((SIZES["three-parts-plus"] // 3, 3), dtype=np.uint8)
    assert SIZES["three-parts-plus"] % 3 == 0
    odd = np.zeros(SIZES["ten-parts-plus-1"], dtype=np.int8)
    i16 = np.zeros(SIZES["dir/nested/key.bin"] // 2, dtype="<i2")
    small_client.get_objects_into(paths_of(module_bucket, keys), [f32, grid, odd, i16])
    assert f32.tobytes() == data["part"]
    np.testing.assert_array_equal(f32, np.frombuffer(data["part"], dtype=np.float32))
    assert grid.tobytes() == data["three-parts-plus"]
    assert odd.tobytes() == data["ten-parts-plus-1"]
    assert i16.tobytes() == data["dir/nested/key.bin"]


def test_into_slices_of_one_big_buffer(small_client: s3turbo.Client, module_bucket: str,
                                       data: dict[str, bytes]) -> None:
    """The "one big buffer with offsets" use case; gaps between slices stay untouched."""
    keys = list(SIZES) + ["part", "empty", "one"]
    gap = 7
    offsets, pos = [], gap
    for k in keys:
        offsets.append(pos)
        pos += SIZES[k] + gap
    big = bytearray(b"\xab" * pos)
    view = memoryview(big)
    slices = [view[o : o + SIZES[k]] for o, k in zip(offsets, keys)]
    small_client.get_objects_into(paths_of(module_bucket, keys), slices)
    for o, k in zip(offsets, keys):
        assert big[o : o + SIZES[k]] == data[k], k
        assert big[o - gap : o] == b"\xab" * gap, f"bytes before {k} were overwritten"
    assert big[pos - gap :] == b"\xab" * gap
    # The same with a numpy array split into views.
    arr = np.full(pos, 0xAB, dtype=np.uint8)
    small_client.get_objects_into(paths_of(module_bucket, keys), [arr[o : o + SIZES[k]] for o, k in zip(offsets, keys)])
    assert arr.tobytes() == bytes(big)


def test_large_object_default_client(client: s3turbo.Client, s3: Any, bucket: str) -> None:
    """~20 MiB: three ranged parts with the default 8 MiB part size."""
    body = random.Random(20).randbytes(20 * (1 << 20) + 12345)
    s3.put_object(Bucket=bucket, Key="big.bin", Body=body)
    ref = hashlib.sha256(boto3_get(s3, bucket, "big.bin")).hexdigest()
    assert ref == hashlib.sha256(body).hexdigest()
    (got,) = client.get_objects([f"{bucket}/big.bin"])
    assert len(got) == len(body)
    assert hashlib.sha256(got).hexdigest() == ref
    arr = np.zeros(len(body), dtype=np.uint8)
    client.get_objects_into([f"s3://{bucket}/big.bin"], [arr])
    assert hashlib.sha256(arr).hexdigest() == ref


def test_duplicate_paths(small_client: s3turbo.Client, module_bucket: str, data: dict[str, bytes]) -> None:
    keys = ["small", "three-parts-plus", "small", "empty", "small", "three-parts-plus"]
    got = small_client.get_objects(paths_of(module_bucket, keys))
    assert [bytes(b) for b in got] == [data[k] for k in keys]
    assert len({id(b) for b in got}) == len(got), "duplicate paths must give distinct buffers"
    got[0][0:4] = b"XXXX"
    assert got[2] == data["small"]
    bufs = [bytearray(SIZES[k]) for k in keys]
    small_client.get_objects_into(paths_of(module_bucket, keys), bufs)
    assert [bytes(b) for b in bufs] == [data[k] for k in keys]


def test_many_small_objects(small_client: s3turbo.Client, client: s3turbo.Client, s3: Any, bucket: str) -> None:
    objects = {f"many/{i:04d}": payload(f"m{i}", i % 300) for i in range(500)}
    put_many(s3, bucket, objects, threads=64)
    keys = list(objects)
    random.Random(1).shuffle(keys)
    for c in (client, small_client):
        got = c.get_objects(paths_of(bucket, keys))
        assert len(got) == 500
        assert [bytes(b) for b in got] == [objects[k] for k in keys]
    bufs = [np.empty(len(objects[k]), dtype=np.uint8) for k in keys]
    client.get_objects_into([f"s3://{bucket}/{k}" for k in keys], bufs)
    assert all(b.tobytes() == objects[k] for b, k in zip(bufs, keys))


def test_batch_larger_than_the_ready_queue_capacity(client: s3turbo.Client, module_bucket: str,
                                                    data: dict[str, bytes]) -> None:
    """get_objects hands out buffers in chunks of at most 4096 objects; cross that boundary."""
    keys = [k for k in SIZES if SIZES[k] <= PART]
    batch = [keys[i % len(keys)] for i in range(5000)]
    got = client.get_objects(paths_of(module_bucket, batch))
    assert len(got) == 5000
    assert all(bytes(b) == data[k] for b, k in zip(got, batch))


def test_s3_scheme_accepted(client: s3turbo.Client, module_bucket: str, data: dict[str, bytes]) -> None:
    got = client.get_objects([f"s3://{module_bucket}/small", f"{module_bucket}/one", f"S3://{module_bucket}/part"])
    assert [bytes(b) for b in got] == [data["small"], data["one"], data["part"]]


SPECIAL_KEYS = ["a b", "é", "e\u0301", "日本/語.txt", "😀", "p+q", "50%", "x%41y", "k=v", "a&b", "q?x", "h#1", "t~",
                "semi;colon", "quote'\"", "<tag>", "dots..x", "back\\slash", "trailing/"]


def test_special_character_keys(client: s3turbo.Client, s3: Any, bucket: str) -> None:
    # A key ending in "/" is a directory marker for versitygw: it must be empty.
    objects = {k: b"" if k.endswith("/") else k.encode() * 3 for k in SPECIAL_KEYS}
    put_many(s3, bucket, objects)
    assert {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]} == set(objects)
    got = client.get_objects(paths_of(bucket, SPECIAL_KEYS))
    assert [bytes(b) for b in got] == [objects[k] for k in SPECIAL_KEYS]


def test_concurrent_calls_from_threads(small_client: s3turbo.Client, module_bucket: str,
                                       data: dict[str, bytes]) -> None:
    keys = list(SIZES)

    def run(i: int) -> list[bytes]:
        ks = keys[i % len(keys):] + keys[: i % len(keys)]
        if i % 2:
            return [bytes(b) for b in small_client.get_objects(paths_of(module_bucket, ks))]
        bufs = [bytearray(SIZES[k]) for k in ks]
        small_client.get_objects_into(paths_of(module_bucket, ks), bufs)
        return [bytes(b) for b in bufs]

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(run, range(12)))
    for i, got in enumerate(results):
        ks = keys[i % len(keys):] + keys[: i % len(keys)]
        assert got == [data[k] for k in ks], i


def test_close_while_other_threads_call(endpoint: Any, module_bucket: str, data: dict[str, bytes]) -> None:
    """close() is documented as leaving the Client reusable: calls racing it
    on other threads succeed (as with boto3). A call that read the handle
    just before close() freed it used to fail with "unknown or freed
    handle" (tens of failures in a run like this one)."""
    c = endpoint.client()
    paths = paths_of(module_bucket, ["small", "one"])
    want = [data["small"], data["one"]]
    errors: list[BaseException] = []
    calls = [0]
    stop = threading.Event()

    def user() -> None:
        while not stop.is_set():
            try:
                assert c.get_objects(paths) == want
                assert [s["size"] for s in c.stat(paths)] == [len(w) for w in want]
                calls[0] += 1
            except BaseException as e:  # noqa: BLE001 - collected and reported below
                errors.append(e)
                return

    threads = [threading.Thread(target=user) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for _ in range(150):
            time.sleep(0.005)
            c.close()
    finally:
        stop.set()
        for t in threads:
            t.join()
    c.close()
    assert not errors, errors[:3]
    assert calls[0] > 20


def test_empty_batch(client: s3turbo.Client, dead_client: s3turbo.Client) -> None:
    assert client.get_objects([]) == []
    assert client.get_objects_into([], []) is None
    # Nothing to do means no request at all.
    assert dead_client.get_objects([]) == []
    assert dead_client.get_objects_into([], []) is None


# -- errors ------------------------------------------------------------------


@pytest.mark.parametrize("position", ["first", "middle", "last"])
def test_missing_key(position: str, small_client: s3turbo.Client, module_bucket: str) -> None:
    keys = list(SIZES)
    missing = "no/such key-42.bin"
    at = {"first": 0, "middle": len(keys) // 2, "last": len(keys)}[position]
    keys.insert(at, missing)
    with pytest.raises(FileNotFoundError) as ei:
        small_client.get_objects(paths_of(module_bucket, keys))
    assert missing in str(ei.value)
    bufs = [bytearray(SIZES.get(k, 10)) for k in keys]
    with pytest.raises(FileNotFoundError) as ei:
        small_client.get_objects_into(paths_of(module_bucket, keys), bufs)
    assert missing in str(ei.value)


def test_missing_key_in_large_batch_never_returns_partial(client: s3turbo.Client, module_bucket: str) -> None:
    paths = paths_of(module_bucket, ["small", "one", "part"] * 200 + ["missing-at-the-end"])
    with pytest.raises(FileNotFoundError) as ei:
        client.get_objects(paths)
    assert "missing-at-the-end" in str(ei.value)


def test_client_usable_after_error(small_client: s3turbo.Client, module_bucket: str,
                                   data: dict[str, bytes]) -> None:
    for _ in range(3):
        with pytest.raises(FileNotFoundError):
            small_client.get_objects(paths_of(module_bucket, ["ten-parts-plus-1", "nope"]))
    got = small_client.get_objects(paths_of(module_bucket, ["ten-parts-plus-1", "small"]))
    assert [bytes(b) for b in got] == [data["ten-parts-plus-1"], data["small"]]


def test_missing_bucket(client: s3turbo.Client) -> None:
    name = "s3turbo-no-such-bucket-9d0e"
    with pytest.raises(FileNotFoundError) as ei:
        client.get_objects([f"{name}/key"])
    assert name in str(ei.value)
    with pytest.raises(FileNotFoundError):
        client.get_objects_into([f"s3://{name}/key"], [bytearray(1)])


WRONG_SIZES = [(k, SIZES[k] + d) for k in ("empty", "one", "part", "three-parts-plus") for d in (-1, 1, PART)
               if SIZES[k] + d >= 0]


@pytest.mark.parametrize("key,size", WRONG_SIZES)
def test_wrong_buffer_size(key: str, size: int, small_client: s3turbo.Client, module_bucket: str) -> None:
    keys = ["small", key]
    bufs = [bytearray(SIZES["small"]), bytearray(size)]
    with pytest.raises(ValueError) as ei:
        small_client.get_objects_into(paths_of(module_bucket, keys), bufs)
    msg = str(ei.value)
    assert key in msg
    assert str(SIZES[key]) in msg and str(size) in msg, msg


def _unusable_buffers() -> list[tuple[str, Any]]:
    ro = np.zeros(1000, dtype=np.uint8)
    ro.flags.writeable = False
    return [
        ("bytes", b"\0" * 1000),
        ("readonly-memoryview", memoryview(bytearray(1000)).toreadonly()),
        ("readonly-numpy", ro),
        ("non-contiguous-numpy", np.zeros(2000, dtype=np.uint8)[::2]),
        ("fortran-order-numpy", np.zeros((10, 100), dtype=np.uint8, order="F")),
        ("non-contiguous-memoryview", memoryview(bytearray(2000))[::2]),
        ("str", "x" * 1000),
        ("int", 1000),
        ("None", None),
    ]


@pytest.mark.parametrize("kind,buf", _unusable_buffers(), ids=[k for k, _ in _unusable_buffers()])
def test_unusable_buffer_rejected_before_any_request(kind: str, buf: Any, small_client: s3turbo.Client,
                                                     dead_client: s3turbo.Client, module_bucket: str) -> None:
    keys = ["no-such-key", "small"]  # the missing key would raise FileNotFoundError if requested
    for c in (small_client, dead_client):
        with pytest.raises(ValueError) as ei:
            c.get_objects_into(paths_of(module_bucket, keys), [bytearray(10), buf])
        assert "small" in str(ei.value)


def test_length_mismatch(client: s3turbo.Client, dead_client: s3turbo.Client, module_bucket: str) -> None:
    paths = paths_of(module_bucket, ["small", "one"])
    for c in (client, dead_client):
        with pytest.raises(ValueError):
            c.get_objects_into(paths, [bytearray(1000)])
        with pytest.raises(ValueError):
            c.get_objects_into(paths, [bytearray(1000), bytearray(1), bytearray(1)])
        with pytest.raises(ValueError):
            c.get_objects_into([], [bytearray(1)])


@pytest.mark.parametrize("bad", ["", "bucket-only", "bucket-only/", "s3://", "s3://bucket-only", "/leading-slash"])
def test_bad_paths(bad: str, client: s3turbo.Client, dead_client: s3turbo.Client, module_bucket: str) -> None:
    for c in (client, dead_client):  # rejected before any request
        with pytest.raises(ValueError) as ei:
            c.get_objects([f"{module_bucket}/small", bad])
        assert not isinstance(ei.value, OSError)
        with pytest.raises(ValueError):
            c.get_objects_into([bad], [bytearray(1)])


def test_non_string_paths(client: s3turbo.Client, module_bucket: str) -> None:
    with pytest.raises(TypeError):
        client.get_objects([f"{module_bucket}/small", 42])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        client.get_objects_into([None], [bytearray(1)])  # type: ignore[list-item]


def test_connection_refused_is_quick(dead_client: s3turbo.Client) -> None:
    t0 = time.monotonic()
    with pytest.raises(ConnectionError):
        dead_client.get_objects(["bucket/key"])
    assert time.monotonic() - t0 < 10


# -- arguments and destinations a demanding user tries ------------------------


def test_range_bounds_follow_slice_rules(small_client: s3turbo.Client, module_bucket: str,
                                         data: dict[str, bytes]) -> None:
    """Bounds are integers as a slice takes them: huge ones clamp (they
    raised OverflowError), floats and strings are refused (int() had
    truncated 1.9 and parsed '2')."""
    body = data["small"]
    path = f"{module_bucket}/small"
    got = small_client.get_ranges([path] * 3, [0, -2**70, np.int64(3)], [2**64, None, -2])
    assert got == [body[0:2**64], body[-2**70:], body[3:-2]]
    for start, end in ((1.9, 3), ("2", 5)):
        with pytest.raises(TypeError, match="range start must be an integer"):
            small_client.get_ranges([path], [start], [end])
    with pytest.raises(ValueError, match="past the end"):
        small_client.read_range_into(path, 2**63 - 2, bytearray(5))


@pytest.mark.parametrize("call", ["get_objects", "stat", "delete", "get_ranges", "download_files"])
def test_single_str_is_refused(small_client: s3turbo.Client, module_bucket: str, call: str,
                               tmp_path: Any) -> None:
    """A bare str where a list of paths belongs was read one path per
    character ("item 0: path 'b' names a bucket")."""
    path = f"{module_bucket}/small"
    args: dict[str, tuple[Any, ...]] = {
        "get_objects": (path,), "stat": (path,), "delete": (path,), "get_ranges": (path, [0], [1]),
        "download_files": (path, [str(tmp_path / "x")]),
    }
    with pytest.raises(TypeError, match="not a single str"):
        getattr(small_client, call)(*args[call])


def test_download_into_special_files(small_client: s3turbo.Client, module_bucket: str, data: dict[str, bytes],
                                     tmp_path: Any) -> None:
    """A named pipe or /dev/null is written into, as boto3 does: s3turbo
    renamed a temporary file over them (as root it replaced /dev/null). A
    directory is refused as IsADirectoryError, as boto3 raises."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    key = "ten-parts-plus-1"  # eleven parts, written in order
    assert small_client.download_files([f"{module_bucket}/{key}"], [str(fifo)]) == [None]
    reader.join(30)
    assert got == [data[key]]
    assert fifo.is_fifo()
    assert small_client.download_files([f"{module_bucket}/small"], [os.devnull]) == [None]
    assert os.path.exists(os.devnull) and not os.path.isfile(os.devnull)
    (tmp_path / "adir").mkdir()
    with pytest.raises(IsADirectoryError, match="small"):
        small_client.download_files([f"{module_bucket}/small"], [str(tmp_path / "adir")])


class _InterruptAfter:
    """Stands in for the engine library: ``name`` calls through and then
    raises KeyboardInterrupt, as a Ctrl-C arriving during that C call does
    the moment it returns."""

    def __init__(self, lib: Any, name: str) -> None:
        self._lib, self._name = lib, name

    def __getattr__(self, attr: str) -> Any:
        fn = getattr(self._lib, attr)
        if attr != self._name:
            return fn

        def interrupted(*args: Any) -> Any:
            fn(*args)
            raise KeyboardInterrupt

        return interrupted


def test_interrupt_as_an_operation_starts(small_client: s3turbo.Client, module_bucket: str,
                                          data: dict[str, bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C raised as the start call returns cancels what it started
    before the call raises: the engine went on writing into the buffers
    after get_objects_into had raised (and uploading after put_objects had)."""
    from s3turbo import _ffi
    n = 2000
    bufs = [bytearray(len(data["small"])) for _ in range(n)]
    real = _ffi.lib()
    monkeypatch.setattr(_ffi, "lib", lambda: _InterruptAfter(real, "s3t_get_start"))
    with pytest.raises(KeyboardInterrupt):
        small_client.get_objects_into([f"{module_bucket}/small"] * n, bufs)
    monkeypatch.undo()
    for b in bufs:
        b[:] = bytes(len(b))
    time.sleep(0.5)
    assert sum(any(b) for b in bufs) == 0  # nothing wrote after the raise


class _Recording(_InterruptAfter):
    """_InterruptAfter that also records what ``name`` handed out (``taken``:
    what its argument ``out_arg`` points to) and the arguments of every
    s3t_writer_free and s3t_table_free."""

    def __init__(self, lib: Any, name: str, out_arg: int) -> None:
        super().__init__(lib, name)
        self.out_arg = out_arg
        self.taken: Any = None
        self.freed: list[Any] = []

    def __getattr__(self, attr: str) -> Any:
        fn = getattr(self._lib, attr)
        if attr in ("s3t_writer_free", "s3t_table_free"):
            def record(h: Any) -> Any:
                self.freed.append(h)
                return fn(h)
            return record
        if attr != self._name:
            return fn

        def interrupted(*args: Any) -> Any:
            fn(*args)
            self.taken = args[self.out_arg][0]
            raise KeyboardInterrupt

        return interrupted


def test_interrupt_as_a_writer_opens_or_a_table_returns(small_client: s3turbo.Client, module_bucket: str,
                                                       data: dict[str, bytes],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C raised as open_writer's engine call returns, or as a result
    table is handed over, leaves nothing behind: the writer's handle (a
    pending upload) and the table are freed. Both used to leak."""
    import gc
    from s3turbo import _ffi
    real = _ffi.lib()
    rec = _Recording(real, "s3t_writer_new", -2)
    monkeypatch.setattr(_ffi, "lib", lambda: rec)
    with pytest.raises(KeyboardInterrupt):
        small_client.open_writer(f"{module_bucket}/writer-interrupted")
    gc.collect()
    assert rec.taken and rec.freed == [rec.taken]

    rec = _Recording(real, "s3t_op_table", 1)
    monkeypatch.setattr(_ffi, "lib", lambda: rec)
    monkeypatch.setattr(_ffi, "_lib", rec)
    with pytest.raises(KeyboardInterrupt):
        small_client.stat([f"{module_bucket}/small"])
    assert rec.taken != _ffi.ffi.NULL and rec.freed == [rec.taken]
    monkeypatch.undo()
    assert small_client.get_objects([f"{module_bucket}/small"]) == [data["small"]]


def test_writer_does_not_pickle(small_client: s3turbo.Client, module_bucket: str) -> None:
    """A Writer's handle means nothing elsewhere, and a copy's collection
    freed the original's (its next write: "invalid handle")."""
    import copy
    import pickle
    w = small_client.open_writer(f"{module_bucket}/writer-pickle")
    for dup in (pickle.dumps, copy.copy, copy.deepcopy):
        with pytest.raises(TypeError, match="Writer"):
            dup(w)
    w.write(b"still fine")
    w.close()
    assert small_client.get_objects([f"{module_bucket}/writer-pickle"]) == [b"still fine"]


def test_list_resumed_in_forked_child_raises() -> None:
    """A list() generator resumed in a fork()ed child raises RuntimeError at
    once; it called into the Go runtime that did not survive the fork and
    hung (here: a listing whose next page is still on its way)."""
    with SlowListServer(delay=60.0) as srv:
        c = s3turbo.Client(endpoint_url=srv.url, key="k", secret="s", retries=1)
        it = c.list("bkt", recursive=True, parallel=False)
        next(it)
        pid = os.fork()
        if pid == 0:  # the child: exit 0 only on the documented RuntimeError
            code = 3
            try:
                signal.alarm(20)
                for _ in it:
                    pass
                code = 2
            except RuntimeError:
                code = 0
            except BaseException:
                code = 4
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        it.close()
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
