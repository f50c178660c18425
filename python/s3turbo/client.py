"""The s3turbo Client: batched S3 operations executed by the Go engine."""

from __future__ import annotations

import array
import datetime as _dt
import json
import operator
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Literal, Mapping, Optional, Sequence, Union, overload

from . import _ffi
from ._ffi import Operation, ffi
from .columns import Names
from ._progress import maybe as _progress

MiB = 1 << 20

PathLike = Union[str, "os.PathLike[str]"]

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def _path(p: object, what: str = "path") -> str:
    if isinstance(p, os.PathLike):
        p = os.fspath(p)
    if not isinstance(p, str):
        raise TypeError(f"{what} must be a str, got {type(p).__name__}")
    return p


def _new_bytearray_factory() -> Any:
    """bytearray(n) zero-fills (and so page-faults) every byte, single-threaded,
    before the engine writes it again: for large objects that is a full extra
    pass over memory. CPython's PyByteArray_FromStringAndSize(NULL, n) allocates
    without touching the memory; get_objects overwrites every byte before it
    returns anything (it never returns a partial result), so nothing
    uninitialized can escape. Falls back to bytearray on other interpreters."""
    try:
        import ctypes

        fn = ctypes.pythonapi.PyByteArray_FromStringAndSize
        fn.restype = ctypes.py_object
        fn.argtypes = (ctypes.c_void_p, ctypes.c_ssize_t)
    except (ImportError, AttributeError):
        return bytearray

    def alloc(n: int) -> bytearray:
        return fn(None, n) if n >= (1 << 20) else bytearray(n)

    return alloc


_alloc_bytearray = _new_bytearray_factory()


def _bytearray_provider(results: list[Any]) -> Any:
    """An ``Operation.run`` on_ready callback for batches whose sizes are
    discovered (s3t_get_start / s3t_range_start without buffers): allocates a
    bytearray for each ready item, stores it in ``results[index]`` and hands
    it to the engine, keeping it alive until the operation ends."""
    cap = min(len(results), 4096)
    idx = ffi.new("int64_t[]", cap)
    sizes = ffi.new("int64_t[]", cap)

    def provide(op: Operation) -> None:
        L = _ffi.lib()
        n = L.s3t_get_ready(op.handle, idx, sizes, cap)
        if n <= 0:
            return
        bufs = ffi.new("char *[]", n)
        for k in range(n):
            ba = _alloc_bytearray(sizes[k])
            results[idx[k]] = ba
            cbuf = ffi.from_buffer(ba, require_writable=True)
            op.keepalive.append(cbuf)
            bufs[k] = cbuf
        _ffi.call(L.s3t_get_provide, op.handle, idx, bufs, sizes, n)

    return provide


def _bytes(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def _split_points(points: Optional[Iterable[str]], parallel: bool) -> tuple[Any, Any, int]:
    """Split points (``bucket/key`` paths, any iterable) as the engine takes
    them; only a (recursive) parallel listing takes any."""
    if points is None:
        return ffi.NULL, ffi.NULL, 0
    if not parallel:
        raise ValueError("split_after needs a recursive parallel listing (parallel=True)")
    items = _paths(points, "split point", "split_after")
    if not items:
        return ffi.NULL, ffi.NULL, 0
    buf, offs, _ = _ffi.encode_strings(items)
    return buf, offs, len(items)


def _mtime(ns: int) -> _dt.datetime:
    return _EPOCH + _dt.timedelta(microseconds=ns // 1000)


@dataclass
class ListResult:
    """A whole listing as columns, sorted by key (see Client.list_columns).

    ``names`` is a :class:`~s3turbo.columns.Names` column: a compact,
    read-only ``Sequence[str]`` decoded on access (``names.tolist()`` for a
    list). ``sizes`` and ``mtimes_ns`` are ``array.array("q")`` (8 bytes a
    key; ``numpy.frombuffer(r.sizes, dtype=numpy.int64)`` views them without
    a copy).
    """

    names: Names
    sizes: "array.array[int]"
    mtimes_ns: "array.array[int]"
    requests: int

    def __len__(self) -> int:
        return len(self.names)


@dataclass
class DuResult:
    """Total size and object count under a path (see Client.du)."""

    path: str
    size: int
    count: int
    requests: int
    by_prefix: dict[str, tuple[int, int]] = field(default_factory=dict)
    """prefix → (size, count) when du was asked for a depth > 0."""


# Writer.write hands data to the engine in slices no larger than the
# smallest part (S3's 5 MiB minimum), so that one slice waits for at most
# one part slot.
_WRITE_SLICE = 4 << 20


def _check_on_error(on_error: str) -> None:
    """Refuse an unknown on_error before any request: raised after the
    batch had run, a typo left the caller believing nothing was done
    (delete(..., on_error="ignore") had deleted)."""
    if on_error not in ("raise", "return"):
        raise ValueError(f"on_error must be 'raise' or 'return', got {on_error!r}")


def _free_page(tp: Any) -> None:
    """Free a listing page the engine handed over but nobody took (Ctrl-C
    raised as s3t_list_next returned it: ~80 KB lost per interrupt)."""
    if tp[0] != ffi.NULL and _ffi.loaded_in_this_process():
        _ffi.lib().s3t_table_free(tp[0])
    tp[0] = ffi.NULL


def _attrs_json(attrs: Optional[Mapping[str, Any]]) -> bytes:
    """Object attributes as the engine reads them (JSON; b"" for none)."""
    if not attrs:
        return b""
    if not isinstance(attrs, Mapping):
        raise TypeError(f"attrs must be a mapping such as {{'ContentType': 'text/csv'}}, not {type(attrs).__name__}")
    return json.dumps(dict(attrs)).encode()


def _no_str(paths: Any, what: str = "paths") -> None:
    """Refuse a bare str (or bytes) where a sequence of paths belongs: it
    was taken as one path per character ("item 0: path 'b' names a
    bucket")."""
    if isinstance(paths, (str, bytes)):
        raise TypeError(f"{what} must be a sequence of paths, not a single {type(paths).__name__}: "
                        f"wrap it in a list ([{paths!r}])")


def _slice_bound(v: Any, what: str) -> int:
    """A range bound as a Python slice takes it: an integer (operator.index:
    no float or str, which int() had truncated or parsed), clamped to what
    any object can hold (data[0:2**64] is the whole object, not an
    OverflowError)."""
    try:
        i = operator.index(v)
    except TypeError:
        raise TypeError(f"range {what} must be an integer or None, got {type(v).__name__} {v!r}") from None
    return max(-(2**63 - 1), min(i, 2**63 - 2))


def _paths(seq: Iterable[PathLike], each: str, what: Optional[str] = None) -> list[str]:
    """Each path of a sequence, checked (see _path); a bare str is refused
    (naming the argument as ``what``, by default ``each`` + "s")."""
    _no_str(seq, what or f"{each}s")
    return [_path(p, f"each {each}") for p in seq]


def _int32(name: str, v: int) -> None:
    """Reject what the engine's int32 parameters cannot hold with a
    ValueError naming the parameter (cffi raised a bare OverflowError)."""
    if not -(1 << 31) <= v < (1 << 31):
        raise ValueError(f"{name} must be below 2**31, got {v}")


def _int64(name: str, v: int) -> int:
    """``v`` as an int for an int64 parameter, or a ValueError naming the
    parameter (cffi raised a bare OverflowError)."""
    v = operator.index(v)
    if not -(1 << 63) <= v < (1 << 63):
        raise ValueError(f"{name} must be below 2**63, got {v}")
    return v


# Variables besides AWS_* that the engine's configuration chain or transport
# reads (see _config_env).
_ENV_NAMES = ("HOME", "SSL_CERT_FILE", "SSL_CERT_DIR", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
              "http_proxy", "https_proxy", "no_proxy")


def _config_env() -> dict[str, Optional[str]]:
    """The environment the engine's AWS configuration chain should read:
    every ``AWS_*`` variable of ``os.environ`` now, and the few others it
    reads (None: unset). The Go runtime copied the environment when the
    engine loaded; what Python set or deleted since would otherwise not
    reach it."""
    env: dict[str, Optional[str]] = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    for k in _ENV_NAMES:
        env[k] = os.environ.get(k)
    return env


# Client.list shadows the builtin in annotations inside the class (type
# checkers read them in the class's scope): they spell it _list.
_list = list


class Client:
    """A client for S3 (or any S3-compatible server) backed by the Go engine.

    Unset arguments come from the standard AWS chain (``AWS_ACCESS_KEY_ID``,
    ``AWS_PROFILE``, ``AWS_ENDPOINT_URL``, shared config and credentials
    files), read from ``os.environ`` as it is when the client first connects
    (its first request). Path-style addressing is used when an endpoint URL
    is given.

    Paths are ``bucket/key``; an ``s3://`` prefix is accepted and stripped.

    A Client pickles by its arguments (never its engine handle), so it can be
    sent to ``spawn``/``forkserver`` worker processes. It must not be used in a
    process ``fork()``-ed after the engine was loaded: that raises RuntimeError.

    Args:
        endpoint_url: S3 endpoint, e.g. ``http://127.0.0.1:9000``.
        key, secret, token: explicit credentials (key and secret together).
        region: signing region (default from the chain, else ``us-east-1``).
        anon: send unsigned requests (public buckets).
        profile: named profile from the shared config files.
        max_concurrency: requests in flight at once per operation.
        part_size: bytes per ranged GET for large objects; objects up to this
            size take exactly one request.
        retries: attempts per request (the SDK's retryer).
        retry_mode: ``"standard"`` or ``"adaptive"``.
        verify: verify TLS certificates (on by default); a path to a PEM
            file of certificate authorities trusts those instead of the
            system's (as boto3's ``verify``).
        connect_timeout, read_timeout: seconds (defaults 10 and 60). ``read_timeout``
            bounds both the wait for a response and any stall inside one: a
            connection on which nothing moved for that long fails and the
            request is retried.
        path_style: force path-style (True) or virtual-host (False)
            addressing; default: path-style when an endpoint is set.
        requester_pays: accept requester-pays charges on every request.
        coalesce_gap: byte ranges of one object (``get_ranges``,
            ``S3FileSystem.cat_ranges``) at most this many bytes apart are
            fetched by one request, the bytes between them read and dropped
            (default 1 MiB, as arrow's object_store; 0 turns it off).
    """

    def __init__(
        self,
        endpoint_url: Optional[str] = None,
        key: Optional[str] = None,
        secret: Optional[str] = None,
        token: Optional[str] = None,
        region: Optional[str] = None,
        anon: bool = False,
        profile: Optional[str] = None,
        max_concurrency: int = 64,
        part_size: int = 8 * MiB,
        retries: int = 5,
        retry_mode: Optional[str] = None,
        verify: Union[bool, str, "os.PathLike[str]"] = True,
        connect_timeout: Optional[float] = None,
        read_timeout: Optional[float] = None,
        path_style: Optional[bool] = None,
        requester_pays: bool = False,
        coalesce_gap: int = 1 * MiB,
    ) -> None:
        if coalesce_gap < 0:
            raise ValueError(f"coalesce_gap must be >= 0, got {coalesce_gap}")
        self._args: dict[str, Any] = dict(
            endpoint_url=endpoint_url, key=key, secret=secret, token=token, region=region,
            anon=anon, profile=profile, max_concurrency=max_concurrency, part_size=part_size,
            retries=retries, retry_mode=retry_mode, verify=verify,
            connect_timeout=connect_timeout, read_timeout=read_timeout,
            path_style=path_style, requester_pays=requester_pays, coalesce_gap=coalesce_gap,
        )
        self._handle: Optional[int] = None
        self._handle_pid: Optional[int] = None
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        return dict(self._args)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def __repr__(self) -> str:
        shown = {k: v for k, v in self._args.items() if k not in ("key", "secret", "token") and v is not None}
        if self._args.get("key"):
            shown["key"] = "***"
        return f"s3turbo.Client({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    @property
    def _h(self) -> int:
        L = _ffi.lib()  # raises in a forked child
        h = self._handle
        if h is not None and self._handle_pid == os.getpid():
            return h
        with self._lock:
            if self._handle is None or self._handle_pid != os.getpid():
                opts = {k: v for k, v in self._args.items() if v is not None}
                if isinstance(opts.get("verify"), (str, os.PathLike)):
                    opts["ca_bundle"], opts["verify"] = os.fspath(opts["verify"]), True
                opts["env"] = _config_env()
                raw = json.dumps(opts).encode()
                out = ffi.new("uint64_t *")
                _ffi.call(L.s3t_client_new, raw, len(raw), out)
                self._handle, self._handle_pid = out[0], os.getpid()
            return self._handle

    def close(self) -> None:
        """Release the engine client (idempotent; the Client can be reused)."""
        with self._lock:
            # Unpublished first, so that a call starting now opens a new
            # handle rather than take the one being freed.
            h, self._handle = self._handle, None
            if h is not None and self._handle_pid == os.getpid() and _ffi.loaded_in_this_process():
                _ffi.lib().s3t_client_free(h)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- ls ----------------------------------------------------------------

    @overload
    def ls(self, path: str, detail: Literal[True] = ...) -> _list[dict[str, Any]]: ...
    @overload
    def ls(self, path: str, detail: Literal[False]) -> _list[str]: ...
    @overload
    def ls(self, path: str, detail: bool) -> Union[_list[dict[str, Any]], _list[str]]: ...

    def ls(self, path: str, detail: bool = True) -> Union[_list[dict[str, Any]], _list[str]]:
        """List one level below ``path`` (all pages).

        Files are ``{"name", "size", "type": "file", "ETag", "LastModified"}``,
        common prefixes ``{"name", "size": 0, "type": "directory"}``; names are
        ``bucket/key`` without a trailing slash. If ``path`` names an object
        rather than a prefix, that object alone is returned. A missing bucket
        or path raises FileNotFoundError.
        """
        raw = _bytes(_path(path))
        with _ffi.start(_ffi.lib().s3t_ls_start, self._h, raw, len(raw)) as op:
            op.run()
            (names, etags), (sizes, mtimes, isdir), _requests = op.table()
        if not detail:
            return names
        result: _list[dict[str, Any]] = []
        for i, name in enumerate(names):
            if isdir[i]:
                result.append({"name": name, "size": 0, "type": "directory", "StorageClass": "DIRECTORY"})
            else:
                result.append({
                    "name": name, "size": sizes[i], "type": "file", "ETag": etags[i],
                    "LastModified": _EPOCH + _dt.timedelta(microseconds=mtimes[i] // 1000),
                })
        return result

    # -- listing at scale ---------------------------------------------------

    def _list_op(self, path: str, flags: int, workers: int,
                 split_after: Optional[Iterable[str]] = None) -> Operation:
        _int32("workers", workers)
        raw = _bytes(_path(path))
        pts, poffs, n = _split_points(split_after, bool(flags & _ffi.LIST_PARALLEL and flags & _ffi.LIST_RECURSIVE))
        return _ffi.start(_ffi.lib().s3t_list_start, self._h, raw, len(raw), flags, workers, pts, poffs, n)

    def list(
        self,
        path: str,
        recursive: bool = True,
        parallel: bool = False,
        sorted: bool = True,
        progress: bool = False,
        workers: int = 0,
        split_after: Optional[Iterable[str]] = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield every entry under ``path`` as pages arrive, in constant memory.

        ``path`` is ``bucket/prefix``; the prefix is used verbatim (``bucket/a``
        also matches ``a1/…``; add a ``/`` for a folder). Entries are
        ``{"name", "size", "type", "ETag", "LastModified"}``. ``recursive=False``
        lists one level (directories come as ``type="directory"`` entries).

        ``parallel=True`` splits the key space adaptively and lists ranges
        concurrently (``workers`` requests at once, default ``max_concurrency``).
        Serial listings are always in key order; parallel ones too when
        ``sorted=True`` (out-of-order ranges are then buffered, so memory grows
        with how far ahead other ranges run); ``sorted=False`` yields pages as
        they come, each page in order. Breaking out of the loop or Ctrl-C
        cancels the listing.

        ``split_after`` (parallel only) seeds the split: paths (``bucket/key``,
        like the names a listing returns) to cut the key space at before the
        first request, e.g. every 10 000th name of an earlier listing of the
        same path. With good points every worker is busy from the first round
        trip instead of after the layout has been discovered; discovery and
        work stealing go on as usual, so stale points cost speed, never keys.
        Points outside ``path`` are ignored; order and duplicates do not
        matter. Each point costs about half a request (its range's last page
        is partial).
        """
        flags = _ffi.LIST_RECURSIVE if recursive else 0
        if parallel:
            flags |= _ffi.LIST_PARALLEL | (_ffi.LIST_SORTED if sorted else 0)
        op = self._list_op(path, flags, workers, split_after)
        tp = ffi.new("s3t_table **")
        try:
            with _progress(f"listing {path}", progress) as bar:
                while True:
                    # lib() each time: a generator resumed in a fork()ed child
                    # must raise, not call into a Go runtime that did not
                    # survive the fork (it hung).
                    state = _ffi.lib().s3t_list_next(op.handle, _ffi.POLL_SECONDS, tp)
                    bar.tick(op)
                    if state == 1:
                        (names, etags), (sizes, mtimes, isdir) = _ffi.take_table_at(tp)
                        for i, name in enumerate(names):
                            if isdir[i]:
                                yield {"name": name[:-1] if name.endswith("/") else name, "size": 0, "type": "directory"}
                            else:
                                yield {"name": name, "size": sizes[i], "type": "file", "ETag": etags[i],
                                       "LastModified": _mtime(mtimes[i])}
                    elif state == 2:
                        op.error()
                        return
                    elif state < 0:
                        raise _ffi.error_for(-state, "invalid listing handle")
        finally:
            _free_page(tp)
            op.free()

    def list_columns(self, path: str, parallel: bool = True, progress: bool = False, workers: int = 0,
                     split_after: Optional[Iterable[str]] = None) -> ListResult:
        """List every key under ``path`` at once, as sorted columns.

        The bulk form of :meth:`list` for when the caller wants everything:
        names (``bucket/key``) as a compact :class:`~s3turbo.Names` column
        decoded on access, sizes and modification times (ns since the epoch)
        as int64 arrays, and the number of LIST requests made. Pages stream
        from Go and are collected as they come, so the engine buffers
        nothing; parallel ranges are disjoint and each page is sorted, so
        ordering whole pages by their first key sorts the result.
        ``split_after`` seeds a parallel listing's split (see :meth:`list`):
        ``client.list_columns(p, split_after=last.names[::10_000])`` re-lists
        a known prefix with every worker busy from the start.
        """
        flags = _ffi.LIST_RECURSIVE | _ffi.LIST_COLUMNS | (_ffi.LIST_PARALLEL if parallel else 0)
        L = _ffi.lib()
        pages: _list[tuple[bytes, "array.array[int]", bytes, bytes]] = []
        tp = ffi.new("s3t_table **")
        with self._list_op(path, flags, workers, split_after) as op, _progress(f"listing {path}", progress) as bar:
            while True:
                try:
                    state = L.s3t_list_next(op.handle, _ffi.POLL_SECONDS, tp)
                    bar.tick(op)
                    if state == 1:
                        t = tp[0]
                        n = t.nrows
                        if n:
                            data, offs = _ffi.take_string_column(t, 0)
                            pages.append((data, offs, ffi.buffer(t.ints[0], 8 * n)[:],
                                          ffi.buffer(t.ints[1], 8 * n)[:]))
                    elif state == 2:
                        op.error()
                        break
                    elif state < 0:
                        raise _ffi.error_for(-state, "invalid listing handle")
                finally:
                    _free_page(tp)  # copied out, or returned as Ctrl-C was raised
            _, _, requests = op.progress()
        if parallel:
            pages.sort(key=lambda p: p[0][: p[1][1] - 1])  # by each page's first name (its bytes)
        sizes, mtimes = array.array("q"), array.array("q")
        for _, _, sz, mt in pages:
            sizes.frombytes(sz)
            mtimes.frombytes(mt)
        return ListResult(Names([(data, offs) for data, offs, _, _ in pages]), sizes, mtimes, requests)

    def du(self, path: str, depth: int = 0, parallel: bool = True, progress: bool = False,
           workers: int = 0, split_after: Optional[Iterable[str]] = None) -> DuResult:
        """Total size and object count under ``path``, computed in Go.

        No key crosses into Python: memory stays small however many keys
        there are. With ``depth=N`` also per prefix of up to N ``/``-separated
        folders below ``path`` (``by_prefix``), like ``du -d N``: a key in
        fewer folders counts under its deepest folder, a key directly under
        ``path`` under ``path`` itself. ``path`` is a verbatim key prefix:
        use ``bucket/data/`` for the folder ``data``. ``split_after`` seeds a
        parallel listing's split, as for :meth:`list`.
        """
        _int32("depth", depth)
        _int32("workers", workers)
        raw = _bytes(_path(path))
        pts, poffs, n = _split_points(split_after, parallel)
        with _ffi.start(_ffi.lib().s3t_du_start, self._h, raw, len(raw), depth, 1 if parallel else 0, workers,
                        pts, poffs, n) as op, _progress(f"du {path}", progress) as bar:
            op.run(on_tick=bar.tick)
            (groups,), (sizes, counts), requests = op.table()
        by_prefix = {groups[i]: (sizes[i], counts[i]) for i in range(1, len(groups))}
        return DuResult(groups[0], sizes[0], counts[0], requests, by_prefix)

    def count(self, path: str, parallel: bool = True, progress: bool = False) -> int:
        """Number of objects under ``path`` (see :meth:`du`)."""
        return self.du(path, parallel=parallel, progress=progress).count

    # -- batch GET ---------------------------------------------------------

    def get_objects(self, paths: Sequence[str]) -> _list[bytearray]:
        """Download many objects concurrently; return their bytes in order.

        One GET per object up to ``part_size`` (no HEAD); larger objects are
        fetched in concurrent ranged parts straight into the result. Raises
        FileNotFoundError naming a missing key (the first to fail: with
        several missing, which one is not fixed, as the GETs run at once;
        :meth:`get_ranges` with ``on_error="return"`` reports each); never
        returns a partial result. Ctrl-C cancels in-flight requests promptly.
        """
        names = _paths(paths, "path")
        results: _list[Optional[bytearray]] = [None] * len(names)
        if not names:
            return []
        L = _ffi.lib()
        data, offs, raw = _ffi.encode_strings(names)
        with _ffi.start(L.s3t_get_start, self._h, data, offs, len(names), ffi.NULL, ffi.NULL, keepalive=[raw]) as op:
            op.run(_bytearray_provider(results))
            op.error()
        return results  # type: ignore[return-value]  # every slot filled on success

    def get_objects_into(self, paths: Sequence[str], buffers: Sequence[Any]) -> None:
        """Download objects into caller-allocated buffers, one per path.

        Each buffer may be any writable, C-contiguous buffer (bytearray,
        numpy array, memoryview, torch tensor storage) whose size in bytes
        equals the object's size; otherwise ValueError names the key and both
        sizes (buffers that are not writable/contiguous are rejected before
        any request). On error the buffers' contents are unspecified.
        """
        names = _paths(paths, "path")
        bufs_in = list(buffers)
        if len(bufs_in) != len(names):
            raise ValueError(f"{len(names)} paths but {len(bufs_in)} buffers")
        if not names:
            return
        L = _ffi.lib()
        cbufs = ffi.new("char *[]", len(names))
        lens = ffi.new("int64_t[]", len(names))
        with _ffi.Views() as views:
            for i, b in enumerate(bufs_in):
                try:
                    with memoryview(b) as mv:
                        if not mv.c_contiguous:
                            raise ValueError("buffer is not C-contiguous")
                        if mv.readonly:
                            raise ValueError("buffer is read-only")
                        lens[i] = mv.nbytes
                    cbufs[i] = views.view(b, writable=True)
                except (TypeError, ValueError, BufferError) as e:
                    raise ValueError(f"buffer {i} for {names[i]!r}: {e}") from None
            data, offs, raw = _ffi.encode_strings(names)
            with _ffi.start(L.s3t_get_start, self._h, data, offs, len(names), cbufs, lens,
                            keepalive=[raw, bufs_in]) as op:
                op.run()
                op.error()

    # -- per-object operations (batched) -------------------------------------

    def _pairs_op(self, export: Any, srcs: Sequence[str], dsts: Sequence[str], *extra: Any) -> Operation:
        sdata, soffs, sraw = _ffi.encode_strings(list(srcs))
        ddata, doffs, draw = _ffi.encode_strings(list(dsts))
        return _ffi.start(export, self._h, sdata, soffs, ddata, doffs, len(srcs), *extra, keepalive=[sraw, draw])

    def _paths_op(self, export: Any, paths: Sequence[str], *extra: Any, keep: Sequence[Any] = ()) -> Operation:
        data, offs, raw = _ffi.encode_strings(list(paths))
        return _ffi.start(export, self._h, data, offs, len(paths), *extra, keepalive=[raw, *keep])

    @staticmethod
    def _item_errors(strs: _list[_list[str]], ints: _list[_list[int]]) -> _list[Optional[BaseException]]:
        """Per-item results: string column 0 = message, int column 0 = status."""
        msgs, codes = strs[0], ints[0]
        return [None if codes[i] == _ffi.OK else _ffi.error_for(codes[i], msgs[i]) for i in range(len(codes))]

    @staticmethod
    def _settle(errors: _list[Optional[BaseException]], on_error: str) -> None:
        """Raise the first item error when on_error is "raise" (callers
        checked on_error with _check_on_error before any request)."""
        if on_error == "raise":
            for e in errors:
                if e is not None:
                    raise e

    @overload
    def stat(self, paths: Sequence[str], on_error: Literal["raise"] = ...) -> _list[dict[str, Any]]: ...
    @overload
    def stat(self, paths: Sequence[str], on_error: str) -> _list[Union[dict[str, Any], BaseException]]: ...

    def stat(self, paths: Sequence[str], on_error: str = "raise") -> Any:
        """HEAD many paths at once (concurrently, in Go).

        Returns one dict per path: ``{"name", "type", "size", "ETag",
        "LastModified", "ContentType", "VersionId", "Metadata"}`` for objects
        (``Metadata``: the user metadata, a dict), ``{"name",
        "type": "directory", "size": 0}`` for buckets and prefixes that hold
        keys. A path that is neither raises FileNotFoundError naming it
        (``on_error="return"`` puts the exception in its slot instead).
        """
        _check_on_error(on_error)
        names = _paths(paths, "path")
        if not names:
            return []
        with self._paths_op(_ffi.lib().s3t_stat_start, names) as op:
            op.run()
            strs, ints, _ = op.table()
        errors = self._item_errors(strs, ints)
        self._settle(errors, on_error)
        _, etags, kinds, ctypes_, versions, canonical, metas = strs
        _, sizes, mtimes = ints
        out: _list[Union[dict[str, Any], BaseException]] = []
        for i, clean in enumerate(canonical):
            err = errors[i]
            if err is not None:
                out.append(err)
                continue
            if kinds[i] == "directory":
                out.append({"name": clean, "type": "directory", "size": 0})
            else:
                out.append({
                    "name": clean, "type": "file", "size": sizes[i], "ETag": etags[i],
                    "LastModified": _mtime(mtimes[i]), "ContentType": ctypes_[i],
                    "VersionId": versions[i] or None, "Metadata": json.loads(metas[i]) if metas[i] else {},
                })
        return out

    def delete(self, paths: Sequence[str], on_error: str = "raise") -> _list[Optional[BaseException]]:
        """Delete many keys: DeleteObjects with up to 1 000 keys a request,
        requests in parallel. Deleting a missing key succeeds (as in S3).
        Returns per-path errors (all None on success) when ``on_error="return"``."""
        _check_on_error(on_error)
        names = _paths(paths, "path")
        if not names:
            return []
        with self._paths_op(_ffi.lib().s3t_delete_start, names) as op:
            op.run()
            strs, ints, _ = op.table()
        errors = self._item_errors(strs, ints)
        self._settle(errors, on_error)
        return errors

    def copy(self, sources: Sequence[str], destinations: Sequence[str],
             on_error: str = "raise") -> _list[Optional[BaseException]]:
        """Server-side copy of many objects (multipart copy above 5 GiB).

        A multipart copy that fails or is cancelled is aborted, and checked
        until the upload is gone (a part copy stopped in flight may still be
        stored after the abort), so it leaves no billed parts behind.

        Items run concurrently: an item storing another source in an object
        an earlier item stores, or reading an object another item
        overwrites, is refused with ``ValueError`` naming that item."""
        _check_on_error(on_error)
        srcs = _paths(sources, "source")
        dsts = _paths(destinations, "destination")
        if len(srcs) != len(dsts):
            raise ValueError(f"{len(srcs)} sources but {len(dsts)} destinations")
        if not srcs:
            return []
        with self._pairs_op(_ffi.lib().s3t_copy_start, srcs, dsts) as op:
            op.run()
            strs, ints, _ = op.table()
        errors = self._item_errors(strs, ints)
        self._settle(errors, on_error)
        return errors

    @overload
    def put_objects(self, paths: Sequence[str], datas: Sequence[Any], create_only: bool = ...,
                    on_error: Literal["raise"] = ..., attrs: Optional[Mapping[str, Any]] = ...) -> _list[str]: ...
    @overload
    def put_objects(self, paths: Sequence[str], datas: Sequence[Any], create_only: bool = ..., *,
                    on_error: str, attrs: Optional[Mapping[str, Any]] = ...) -> _list[Union[str, BaseException]]: ...

    def put_objects(self, paths: Sequence[str], datas: Sequence[Any], create_only: bool = False,
                    on_error: str = "raise", attrs: Optional[Mapping[str, Any]] = None) -> Any:
        """Upload many in-memory objects (bytes-like) concurrently, multipart
        in parallel parts above ``part_size``. ``create_only`` fails with
        FileExistsError for keys that already exist. ``attrs`` are the
        headers every object is stored with, named as boto3's ExtraArgs:
        ``ContentType``, ``ContentEncoding``, ``ContentDisposition``,
        ``ContentLanguage``, ``CacheControl``, ``Metadata`` (a dict),
        ``StorageClass``, ``ServerSideEncryption``, ``SSEKMSKeyId``, ``ACL``
        (another name raises ValueError). Returns ETags."""
        _check_on_error(on_error)
        araw = _attrs_json(attrs)
        names = _paths(paths, "path")
        items = list(datas)
        if len(items) != len(names):
            raise ValueError(f"{len(names)} paths but {len(items)} buffers")
        if not names:
            return []
        L = _ffi.lib()
        cbufs = ffi.new("char *[]", len(names))
        lens = ffi.new("int64_t[]", len(names))
        flags = _ffi.PUT_CREATE_ONLY if create_only else 0
        with _ffi.Views() as views:
            for i, b in enumerate(items):
                try:
                    with memoryview(b) as mv:
                        if not mv.c_contiguous:
                            raise ValueError("buffer is not C-contiguous")
                        lens[i] = mv.nbytes
                    cbufs[i] = views.view(b)
                except (TypeError, ValueError, BufferError) as e:
                    raise TypeError(f"data {i} for {names[i]!r}: {e}") from None
            with self._paths_op(L.s3t_put_start, names, cbufs, lens, flags, araw, len(araw),
                                keep=[cbufs, lens, items]) as op:
                op.run()
                strs, ints, _ = op.table()
        errors = self._item_errors(strs, ints)
        self._settle(errors, on_error)
        return [e if e is not None else strs[1][i] for i, e in enumerate(errors)]

    @overload
    def upload_files(self, local_paths: Sequence[PathLike], paths: Sequence[str], create_only: bool = ...,
                     on_error: Literal["raise"] = ..., attrs: Optional[Mapping[str, Any]] = ...) -> _list[str]: ...
    @overload
    def upload_files(self, local_paths: Sequence[PathLike], paths: Sequence[str], create_only: bool = ..., *,
                     on_error: str, attrs: Optional[Mapping[str, Any]] = ...) -> _list[Union[str, BaseException]]: ...

    def upload_files(self, local_paths: Sequence[PathLike], paths: Sequence[str], create_only: bool = False,
                     on_error: str = "raise", attrs: Optional[Mapping[str, Any]] = None) -> Any:
        """Upload local files to keys; Go reads the files (parallel parts for
        large ones). ``attrs``: as for :meth:`put_objects`. Returns ETags."""
        _check_on_error(on_error)
        araw = _attrs_json(attrs)
        srcs = _paths(local_paths, "local path")
        dsts = _paths(paths, "path")
        if len(srcs) != len(dsts):
            raise ValueError(f"{len(srcs)} local paths but {len(dsts)} destinations")
        if not srcs:
            return []
        flags = _ffi.PUT_CREATE_ONLY if create_only else 0
        with self._pairs_op(_ffi.lib().s3t_upload_start, srcs, dsts, flags, araw, len(araw)) as op:
            op.run()
            strs, ints, _ = op.table()
        errors = self._item_errors(strs, ints)
        self._settle(errors, on_error)
        return [e if e is not None else strs[1][i] for i, e in enumerate(errors)]

    def download_files(self, paths: Sequence[str], local_paths: Sequence[PathLike], root: Optional[PathLike] = None,
                       on_error: str = "raise") -> _list[Optional[BaseException]]:
        """Download objects to local files, concurrently (parallel ranged
        parts for large objects). Each file appears atomically (temp file +
        rename); parent directories are created. With ``root`` every
        destination must lie inside it, so hostile keys (``a/../../x``) can
        never write elsewhere."""
        _check_on_error(on_error)
        srcs = _paths(paths, "path")
        dsts = _paths(local_paths, "local path")
        if len(srcs) != len(dsts):
            raise ValueError(f"{len(srcs)} paths but {len(dsts)} local destinations")
        for d in dsts:
            if d.endswith(("/", os.sep)):
                # A file's path, not a directory's: "out/new/" became a file
                # named "new".
                raise ValueError(f"local destination {d!r} ends with a separator: name the file to write")
        if not srcs:
            return []
        rraw = _bytes(os.path.abspath(_path(root, "root"))) if root is not None else b""
        with self._pairs_op(_ffi.lib().s3t_download_start, srcs, dsts, rraw, len(rraw)) as op:
            op.run()
            strs, ints, _ = op.table()
        errors = self._item_errors(strs, ints)
        self._settle(errors, on_error)
        return errors

    @overload
    def get_ranges(self, paths: Sequence[str], starts: Sequence[Optional[int]], ends: Sequence[Optional[int]],
                   etags: Optional[Sequence[Optional[str]]] = ..., on_error: Literal["raise"] = ...) -> _list[bytearray]: ...
    @overload
    def get_ranges(self, paths: Sequence[str], starts: Sequence[Optional[int]], ends: Sequence[Optional[int]],
                   etags: Optional[Sequence[Optional[str]]] = ..., *,
                   on_error: str) -> _list[Union[bytearray, BaseException]]: ...

    def get_ranges(self, paths: Sequence[str], starts: Sequence[Optional[int]], ends: Sequence[Optional[int]],
                   etags: Optional[Sequence[Optional[str]]] = None, on_error: str = "raise") -> Any:
        """Read byte ranges of many objects concurrently (one request per
        range up to ``part_size``, no HEAD; ranges of one object at most
        ``coalesce_gap`` bytes apart share a request). ``starts``/``ends`` follow Python
        slice rules: None means the start/end of the object, negative values
        count from the end, ranges past the end are clamped. With ``etags``,
        a range whose object no longer has that ETag raises
        ObjectChangedError."""
        _check_on_error(on_error)
        names = _paths(paths, "path")
        n = len(names)
        if len(starts) != n or len(ends) != n or (etags is not None and len(etags) != n):
            raise ValueError("paths, starts, ends (and etags) must have the same length")
        if not n:
            return []
        L = _ffi.lib()
        cs = ffi.new("int64_t[]", [0 if s is None else _slice_bound(s, "start") for s in starts])
        ce = ffi.new("int64_t[]", [_ffi.EOF_OFFSET if e is None else _slice_bound(e, "end") for e in ends])
        edata, eoffs, eraw = _ffi.encode_strings([e or "" for e in etags] if etags is not None else [""] * n)
        results: _list[Any] = [None] * n
        flags = _ffi.RANGE_CONTINUE_ON_ERROR if on_error == "return" else 0
        with self._paths_op(L.s3t_range_start, names, cs, ce, edata, eoffs, ffi.NULL, ffi.NULL, flags,
                            keep=[eraw]) as op:
            op.run(_bytearray_provider(results))
            op.error()
            codes = ffi.new("int32_t[]", n)
            L.s3t_get_codes(op.handle, codes, n)
            for i in range(n):
                if codes[i] != _ffi.OK:
                    errp = ffi.new("char **")
                    code = L.s3t_get_item_error(op.handle, i, errp)
                    results[i] = _ffi.error_for(code or codes[i], _ffi.take_string(errp[0]))
        return results

    def read_range_into(self, path: str, start: int, buffer: Any, etag: Optional[str] = None) -> None:
        """Read ``len(buffer)`` bytes at ``start`` of one object straight into
        a writable buffer (parallel parts for large reads). The range must lie
        inside the object (``start`` ≥ 0; :meth:`get_ranges` takes offsets
        from the end); with ``etag`` the read fails with ObjectChangedError if
        the object was replaced."""
        name = _path(path)
        start = operator.index(start)
        if start < 0:
            raise ValueError(f"start must be >= 0 for {name!r}, got {start} (get_ranges reads from the end)")
        if start > 2**62:
            raise ValueError(f"start {start} for {name!r} lies past the end of any object")
        with memoryview(buffer) as mv:
            if mv.readonly or not mv.c_contiguous:
                raise ValueError(f"buffer for {name!r} must be writable and C-contiguous")
            n = mv.nbytes
        L = _ffi.lib()
        with _ffi.Views() as views:
            bufs = ffi.new("char *[]", [views.view(buffer, writable=True)])
            lens = ffi.new("int64_t[]", [n])
            cs = ffi.new("int64_t[]", [start])
            ce = ffi.new("int64_t[]", [start + n])
            edata, eoffs, eraw = _ffi.encode_strings([etag or ""])
            with self._paths_op(L.s3t_range_start, [name], cs, ce, edata, eoffs, bufs, lens, 0,
                                keep=[eraw, buffer]) as op:
                op.run()
                op.error()

    def presign(self, path: str, expires: int = 3600, method: str = "GET") -> str:
        """A presigned URL for ``path`` valid for ``expires`` seconds
        (``method`` GET or PUT). Makes no request."""
        raw = _bytes(_path(path))
        m = method.upper().encode()
        out = ffi.new("char **")
        errp = ffi.new("char **")
        code = _ffi.lib().s3t_presign(self._h, raw, len(raw), m, len(m), _int64("expires", int(expires)), out, errp)
        _ffi.check(code, errp)
        return _ffi.take_string(out[0])

    def _bucket(self, name: str, action: int, region: Optional[str]) -> None:
        raw = _bytes(_path(name, "bucket"))
        rraw = _bytes(region or "")
        with _ffi.start(_ffi.lib().s3t_bucket_start, self._h, raw, len(raw), action, rraw, len(rraw)) as op:
            op.run()
            op.error()

    def make_bucket(self, name: str, region: Optional[str] = None) -> None:
        """Create a bucket (FileExistsError if it exists)."""
        self._bucket(name, _ffi.BUCKET_CREATE, region)

    def remove_bucket(self, name: str) -> None:
        """Delete an empty bucket (FileNotFoundError if missing, OSError if not empty)."""
        self._bucket(name, _ffi.BUCKET_REMOVE, None)

    def list_buckets(self) -> _list[dict[str, Any]]:
        """The buckets visible to these credentials: ``{"name", "CreationDate"}``."""
        with _ffi.start(_ffi.lib().s3t_buckets_start, self._h) as op:
            op.run()
            (names,), (created,), _ = op.table()
        return [{"name": n, "CreationDate": _mtime(created[i])} for i, n in enumerate(names)]

    def open_writer(self, path: str, create_only: bool = False, append: bool = False,
                    part_size: int = 0, attrs: Optional[Mapping[str, Any]] = None) -> "Writer":
        """A streaming upload: bytes written go up in parallel multipart parts
        as they accumulate; small results become one PUT at close.
        ``attrs``: as for :meth:`put_objects`; without them an append keeps
        the object's own content headers and metadata."""
        raw = _bytes(_path(path))
        araw = _attrs_json(attrs)
        part_size = _int64("part_size", part_size)
        flags = (_ffi.PUT_CREATE_ONLY if create_only else 0) | (_ffi.WRITER_APPEND if append else 0)
        out = ffi.new("uint64_t *")
        # The Writer exists before the call and takes the handle in a
        # finally (as _ffi.start does): Ctrl-C raised as the call returns
        # then leaves a Writer whose collection aborts the upload.
        w = Writer(None, _path(path))
        try:
            _ffi.call(_ffi.lib().s3t_writer_new, self._h, raw, len(raw), flags, part_size, araw, len(araw), out)
        finally:
            w._h = out[0] or None
        return w

    # -- tar index ---------------------------------------------------------

    @overload
    def index_tar(self, path: PathLike, output: None = None) -> _list[dict[str, Any]]: ...
    @overload
    def index_tar(self, path: PathLike, output: PathLike) -> int: ...

    def index_tar(self, path: PathLike, output: Optional[PathLike] = None) -> Union[_list[dict[str, Any]], int]:
        """Index a tar archive (plain, gzip or zstd, detected from magic bytes).

        ``path`` is a local file (an existing file, an absolute path or one
        starting with ``.``), or ``bucket/key`` / ``s3://bucket/key``. Rows'
        ``archive`` is ``s3://bucket/key`` for S3 sources, else the local path.
        The archive is streamed once. Without ``output`` returns one dict per
        member: ``archive, filename, size, type, mode, mtime, linkname,
        header_offset, data_offset`` (offsets in the uncompressed stream).
        With ``output`` (``s3://bucket/key`` or a local path; ``.zst`` →
        zstd) writes JSON Lines there and returns the number of members; a
        failed run leaves no output behind. In JSON Lines each byte of a name
        that is not UTF-8 is U+FFFD (the returned rows, like tarfile, keep
        surrogate escapes): lone-surrogate escapes would keep such names
        apart, but pandas and pyarrow refuse the whole file for them. A corrupt or truncated archive
        raises CorruptDataError (a ValueError) naming the archive and offset.
        """
        src = _path(path)
        sraw = _bytes(src)
        draw = _bytes(_path(output, "output")) if output is not None else b""
        with _ffi.start(_ffi.lib().s3t_tar_start, self._h, sraw, len(sraw), draw, len(draw)) as op:
            op.run()
            strs, ints, count = op.table()
            archive = op.label()
        if output is not None:
            return count
        (names, types, links), (sizes, modes, mtimes, hdrs, datas) = strs, ints
        return [
            {
                "archive": archive, "filename": names[i], "size": sizes[i], "type": types[i],
                "mode": modes[i], "mtime": mtimes[i], "linkname": links[i],
                "header_offset": hdrs[i], "data_offset": datas[i],
            }
            for i in range(len(names))
        ]


class Writer:
    """A streaming upload created by :meth:`Client.open_writer`.

    ``write`` copies the bytes into the engine (parts upload in the
    background); ``close`` completes the upload and returns the ETag;
    ``abort`` (or garbage collection before ``close``) cancels it and leaves
    no object and no pending multipart upload behind.
    """

    def __init__(self, handle: Optional[int], path: str) -> None:
        self._h: Optional[int] = handle
        self.path = path
        self.etag: Optional[str] = None

    def write(self, data: Any) -> int:
        """Append bytes-like ``data``; returns the number of bytes taken."""
        if self._h is None:
            raise ValueError(f"writer for {self.path!r} is closed")
        with memoryview(data) as whole:
            n = whole.nbytes
            if not n:
                return 0
            if not whole.c_contiguous:
                raise ValueError(f"data for {self.path!r} must be C-contiguous")
            L = _ffi.lib()
            # Every view is released on the way out, an exception included: a
            # traceback kept by the caller would otherwise keep the caller's
            # buffer exported, and a memoryview the garbage collector clears
            # while exported crashes CPython.
            with whole.cast("B") as mv:
                # In slices of at most one part: each write then waits for at
                # most one part slot, and that wait happens here, 100 ms at a
                # time, so Ctrl-C interrupts it (inside one call into Go it
                # could not).
                for off in range(0, n, _WRITE_SLICE):
                    while True:
                        state = L.s3t_writer_ready(self._h, _ffi.POLL_SECONDS)
                        if state == 1:
                            break
                        if state < 0:
                            raise _ffi.error_for(-state, f"writer for {self.path!r}: invalid handle")
                    with mv[off:off + _WRITE_SLICE] as chunk, ffi.from_buffer("char[]", chunk) as cb:
                        _ffi.call(L.s3t_writer_write, self._h, cb, chunk.nbytes)
        return n

    def close(self) -> str:
        """Complete the upload (one PUT if it stayed small); returns the ETag."""
        if self._h is None:
            if self.etag is None:
                raise ValueError(f"writer for {self.path!r} was aborted")
            return self.etag
        L = _ffi.lib()
        try:
            with _ffi.start(L.s3t_writer_close_start, self._h) as op:
                op.run()
                (etags,), _, _ = op.table()
            self.etag = etags[0] if etags else ""
            return self.etag
        finally:
            self._free()

    def abort(self) -> None:
        """Abandon the upload (idempotent)."""
        self._free()

    def _free(self) -> None:
        h, self._h = self._h, None
        if h is not None and _ffi.loaded_in_this_process():
            _ffi.lib().s3t_writer_free(h)

    def __del__(self) -> None:
        try:
            self._free()
        except Exception:
            pass

    def __reduce__(self) -> Any:
        # Its handle means nothing in another process (and a copy's
        # collection would free the original's): refuse, as a generator does.
        raise TypeError(f"cannot pickle or copy a Writer (for {self.path!r}); open one in each process")

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
