"""cffi binding to the Go engine (``libs3turbo.so``), loaded lazily.

Everything that crosses the C boundary goes through this module: the cdef,
the loader (with its fork guard), status → exception mapping, decoding of
C-allocated result tables, and the start → wait → cancel → free protocol
for long operations (so Ctrl-C becomes a cancel).
"""

from __future__ import annotations

import array
import os
import threading
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from cffi import FFI

CDEF = """
typedef struct {
    int64_t nrows;
    int32_t nstr;
    int32_t nint;
    char **str;
    int64_t **str_off;
    int64_t **ints;
} s3t_table;

void s3t_free(void *p);
int32_t s3t_abi_version(void);
int32_t s3t_client_new(char *opts, int64_t n, uint64_t *out, char **err);
int32_t s3t_client_free(uint64_t h);
int32_t s3t_op_wait(uint64_t h, double timeout);
int32_t s3t_op_cancel(uint64_t h);
int32_t s3t_op_free(uint64_t h);
int32_t s3t_op_error(uint64_t h, char **err);
int32_t s3t_op_progress(uint64_t h, int64_t *out);
int32_t s3t_op_label(uint64_t h, char **out);
int32_t s3t_op_table(uint64_t h, s3t_table **out, int64_t *count, char **err);
void s3t_table_free(s3t_table *t);
int32_t s3t_ls_start(uint64_t client, char *path, int64_t n, uint64_t *out, char **err);
int32_t s3t_get_start(uint64_t client, char *paths, int64_t *offs, int64_t n,
                      char **bufs, int64_t *lens, uint64_t *out, char **err);
int64_t s3t_get_ready(uint64_t h, int64_t *idx, int64_t *sizes, int64_t cap);
int32_t s3t_get_provide(uint64_t h, int64_t *idx, char **bufs, int64_t *lens, int64_t n, char **err);
int32_t s3t_get_codes(uint64_t h, int32_t *codes, int64_t n);
int32_t s3t_get_item_error(uint64_t h, int64_t i, char **err);
int32_t s3t_list_start(uint64_t client, char *path, int64_t n, int32_t flags, int32_t workers,
                       char *points, int64_t *poffs, int64_t npoints, uint64_t *out, char **err);
int32_t s3t_list_next(uint64_t h, double timeout, s3t_table **out);
int32_t s3t_du_start(uint64_t client, char *path, int64_t n, int32_t depth, int32_t parallel, int32_t workers,
                     char *points, int64_t *poffs, int64_t npoints, uint64_t *out, char **err);
int32_t s3t_tar_start(uint64_t client, char *src, int64_t slen, char *dst, int64_t dlen,
                      uint64_t *out, char **err);
int32_t s3t_buckets_start(uint64_t client, uint64_t *out, char **err);
int32_t s3t_stat_start(uint64_t client, char *paths, int64_t *offs, int64_t n, uint64_t *out, char **err);
int32_t s3t_delete_start(uint64_t client, char *paths, int64_t *offs, int64_t n, uint64_t *out, char **err);
int32_t s3t_copy_start(uint64_t client, char *srcs, int64_t *soffs, char *dsts, int64_t *doffs, int64_t n,
                       uint64_t *out, char **err);
int32_t s3t_presign(uint64_t client, char *path, int64_t n, char *method, int64_t mlen, int64_t expires_seconds,
                    char **url, char **err);
int32_t s3t_bucket_start(uint64_t client, char *name, int64_t n, int32_t action, char *region, int64_t rlen,
                         uint64_t *out, char **err);
int32_t s3t_put_start(uint64_t client, char *paths, int64_t *offs, int64_t n, char **bufs, int64_t *lens,
                      int32_t flags, char *attrs, int64_t alen, uint64_t *out, char **err);
int32_t s3t_upload_start(uint64_t client, char *srcs, int64_t *soffs, char *dsts, int64_t *doffs, int64_t n,
                         int32_t flags, char *attrs, int64_t alen, uint64_t *out, char **err);
int32_t s3t_writer_new(uint64_t client, char *path, int64_t n, int32_t flags, int64_t part_size,
                       char *attrs, int64_t alen, uint64_t *out, char **err);
int32_t s3t_writer_write(uint64_t h, char *buf, int64_t n, char **err);
int32_t s3t_writer_ready(uint64_t h, double timeout);
int32_t s3t_writer_close_start(uint64_t h, uint64_t *out, char **err);
int32_t s3t_writer_free(uint64_t h);
int32_t s3t_range_start(uint64_t client, char *paths, int64_t *offs, int64_t n, int64_t *starts, int64_t *ends,
                        char *etags, int64_t *eoffs, char **bufs, int64_t *lens, int32_t flags,
                        uint64_t *out, char **err);
int32_t s3t_download_start(uint64_t client, char *srcs, int64_t *soffs, char *dsts, int64_t *doffs, int64_t n,
                           char *root, int64_t rlen, uint64_t *out, char **err);
int32_t s3t_cpuprofile(char *path, int64_t n, char **err);
"""

ABI_VERSION = 4
LIBNAME = "libs3turbo.so"

# Operation states returned by s3t_op_wait.
PENDING, READY, DONE = 0, 1, 2

# Status codes (go/s3err). Part of the ABI.
OK, NOT_FOUND, PERMISSION, EXISTS, INVALID, TIMEOUT, CONNECTION = 0, 1, 2, 3, 4, 5, 6
CANCELLED, IO, INTERNAL, CORRUPT, CHANGED, IS_DIR = 7, 8, 9, 10, 11, 12

# s3t_list_start flags.
LIST_RECURSIVE, LIST_PARALLEL, LIST_SORTED, LIST_COLUMNS = 1, 2, 4, 8

# Flags of s3t_put_start / s3t_upload_start / s3t_writer_new.
PUT_CREATE_ONLY, WRITER_APPEND = 1, 2
# Flag of s3t_range_start.
RANGE_CONTINUE_ON_ERROR = 1
# s3t_range_start's "to the end of the object".
EOF_OFFSET = (1 << 63) - 1
# s3t_bucket_start actions.
BUCKET_CREATE, BUCKET_REMOVE = 1, 2

# How long one wait blocks before Python gets a chance to see Ctrl-C.
POLL_SECONDS = 0.1

ffi = FFI()
ffi.cdef(CDEF)

_lock = threading.Lock()
_lib: Any = None
_pid: Optional[int] = None


class CorruptDataError(ValueError):
    """Data from S3 or disk is malformed (e.g. a corrupt or truncated tar)."""


class ObjectChangedError(OSError):
    """An object changed (new ETag) while it was being read in parts."""


class CancelledError(OSError):
    """An operation was cancelled before it completed."""


class InternalError(RuntimeError):
    """A bug in s3turbo's engine (a recovered Go panic). Please report it."""


FORK_MESSAGE = (
    "s3turbo's Go engine was loaded in process {parent} and this process ({child}) was "
    "created from it with fork(); a Go runtime does not survive fork. Create worker "
    "processes with the 'spawn' or 'forkserver' start method instead, e.g. "
    "torch.utils.data.DataLoader(..., multiprocessing_context='forkserver') or "
    "multiprocessing.get_context('spawn'). s3turbo objects pickle by their arguments, "
    "so they can be passed to such workers."
)


def _library_path() -> Path:
    override = os.environ.get("S3TURBO_LIBRARY")
    if override:
        return Path(override)
    return Path(__file__).with_name(LIBNAME)


def lib() -> Any:
    """Return the loaded library, loading it on first use (thread-safe).

    Raises RuntimeError in a process forked after the library was loaded.
    """
    global _lib, _pid
    cur = _lib
    if cur is not None:
        if _pid != os.getpid():
            raise RuntimeError(FORK_MESSAGE.format(parent=_pid, child=os.getpid()))
        return cur
    with _lock:
        if _lib is None:
            path = _library_path()
            if not path.exists():
                raise ImportError(
                    f"s3turbo's engine {path} is missing: the package was not built. "
                    "Install with `pip install .` (needs Go >= 1.22 on PATH) or run `make build`."
                )
            loaded = ffi.dlopen(str(path))
            version = loaded.s3t_abi_version()
            if version != ABI_VERSION:
                raise ImportError(f"{path} has ABI version {version}, this package expects {ABI_VERSION}; rebuild")
            _pid = os.getpid()
            _lib = loaded
    return lib()


def loaded_in_this_process() -> bool:
    """True if the engine is loaded and usable in this process."""
    return _lib is not None and _pid == os.getpid()


def take_string(p: Any) -> str:
    """Decode and free a C string returned by the engine."""
    if p == ffi.NULL:
        return ""
    try:
        raw: bytes = ffi.string(p)
        return raw.decode("utf-8", "replace")
    finally:
        _lib.s3t_free(p)


_EXC: dict[int, type[BaseException]] = {
    NOT_FOUND: FileNotFoundError,
    PERMISSION: PermissionError,
    EXISTS: FileExistsError,
    INVALID: ValueError,
    TIMEOUT: TimeoutError,
    CONNECTION: ConnectionError,
    CANCELLED: CancelledError,
    IO: OSError,
    INTERNAL: InternalError,
    CORRUPT: CorruptDataError,
    CHANGED: ObjectChangedError,
    IS_DIR: IsADirectoryError,
}


def error_for(status: int, message: str) -> BaseException:
    """Build the Python exception for an engine status.

    The low 8 bits are the class (go/s3err's Code); an errno above them (a
    local file's ENOSPC, a refused connection's ECONNREFUSED) is set as the
    exception's ``errno``, and an I/O error carrying one becomes the subclass
    Python's own I/O raises for it (``NotADirectoryError`` for ENOTDIR). The
    message stays the engine's, which names the item and the cause.
    """
    code, eno = status & 0xFF, status >> 8
    cls = _EXC.get(code, OSError)
    if eno > 0 and cls is OSError:
        cls = type(OSError(eno, ""))
    exc = cls(message or f"s3turbo error code {code}")
    if eno > 0 and isinstance(exc, OSError) and not isinstance(exc, CancelledError):
        exc.errno = eno
    return exc


def check(code: int, errp: Any) -> None:
    """Raise if code is non-zero, consuming the message in errp[0]."""
    msg = take_string(errp[0]) if errp[0] != ffi.NULL else ""
    if code != OK:
        raise error_for(code, msg)


def call(fn: Callable[..., int], *args: Any) -> None:
    """Call an export whose last argument is ``char **err``."""
    errp = ffi.new("char **")
    code = fn(*args, errp)
    check(code, errp)


class Views:
    """cffi views of callers' buffers (``ffi.from_buffer``), all released on
    exit, an exception included.

    Use it around the whole call, outside the operation's own ``with``, so
    the views outlive every engine goroutine. Unreleased, a view keeps its
    buffer exported for as long as a traceback holds the frame: a caller's
    ``memoryview`` then cannot be released, and one the garbage collector
    clears while exported crashes CPython.
    """

    def __init__(self) -> None:
        self._views: list[Any] = []

    def view(self, obj: Any, writable: bool = False) -> Any:
        """A ``char[]`` view of ``obj``'s memory, released with the others."""
        cb = ffi.from_buffer("char[]", obj, require_writable=writable)
        self._views.append(cb)
        return cb

    def __enter__(self) -> "Views":
        return self

    def __exit__(self, *exc: object) -> None:
        views, self._views = self._views, []
        for cb in views:
            ffi.release(cb)


def encode_strings(items: list[str]) -> tuple[Any, Any, bytes]:
    """Concatenate UTF-8 strings; return (cdata buffer, int64 offsets, raw)."""
    encoded = [s.encode("utf-8", "surrogateescape") for s in items]
    raw = b"".join(encoded)
    offs = ffi.new("int64_t[]", len(encoded) + 1)
    pos = 0
    for i, e in enumerate(encoded):
        pos += len(e)
        offs[i + 1] = pos
    return ffi.from_buffer(raw), offs, raw


def split_strings(buf: Any, n: int, offsets: Callable[[], Sequence[int]]) -> list[str]:
    """Decode n strings laid out as the engine writes a string column: each
    followed by a '\\n' separator, string i at [offsets[i], offsets[i+1]-1).
    ``buf`` is any buffer; ``offsets`` is called only if a string holds a
    newline (then one split cannot tell the strings apart)."""
    if not n:
        return []
    parts = str(buf, "utf-8", "surrogateescape").split("\n")
    if len(parts) == n + 1:  # no string holds a newline: one split did it all
        parts.pop()
        return parts
    raw, offs = bytes(buf), offsets()
    return [raw[offs[i] : offs[i + 1] - 1].decode("utf-8", "surrogateescape") for i in range(n)]


def _strings(data: Any, off: Any, n: int) -> list[str]:
    """Decode one string column of an s3t_table."""
    end = off[n]
    if not end:
        return [""] * n
    # Decoded straight from the engine's buffer: no intermediate bytes copy.
    return split_strings(ffi.buffer(data, end), n, lambda: ffi.unpack(off, n + 1))


def take_string_column(t: Any, i: int) -> tuple[bytes, "array.array[int]"]:
    """Copy string column i of an s3t_table (without freeing it) as it is laid
    out: the strings, each followed by '\\n', and n+1 int64 offsets."""
    n = t.nrows
    offs = array.array("q")
    offs.frombytes(ffi.buffer(t.str_off[i], 8 * (n + 1)))
    return ffi.buffer(t.str[i], offs[n])[:], offs


def take_table_at(tp: Any) -> tuple[list[list[str]], list[list[int]]]:
    """Decode and free the table ``*tp`` points to, clearing ``*tp`` before
    the free, so that a caller's cleanup of ``*tp`` never frees it twice."""
    t = tp[0]
    if t == ffi.NULL:
        return [], []
    try:
        n = t.nrows
        strs = [_strings(t.str[i], t.str_off[i], n) for i in range(t.nstr)]
        ints = [ffi.unpack(t.ints[i], n) if n else [] for i in range(t.nint)]
        return strs, ints
    finally:
        tp[0] = ffi.NULL
        _lib.s3t_table_free(t)


def start(export: Callable[..., int], *args: Any, keepalive: Sequence[Any] = ()) -> "Operation":
    """Start an engine operation, ``export(*args, &handle, &err)``, and return
    the Operation that owns it, keeping ``args`` and ``keepalive`` (the
    buffers the engine reads or writes) alive until it is freed.

    The Operation exists before the call and takes the handle in a
    ``finally``: Python raises a pending signal's exception (Ctrl-C) the
    moment a C call returns, and an operation started just then used to run
    on unowned, writing into buffers the caller had already dropped.
    """
    op = Operation(0, [*args, *keepalive])
    out = ffi.new("uint64_t *")
    try:
        call(export, *args, out)
    finally:
        op.handle = out[0]
    return op


class Operation:
    """A running engine operation: waited on in short slices so that Ctrl-C
    (KeyboardInterrupt) cancels it, and freed exactly once.

    ``keepalive`` holds Python objects (buffers) the engine writes to; they
    stay referenced until every engine goroutine has stopped.
    """

    def __init__(self, handle: int, keepalive: Optional[list[Any]] = None) -> None:
        self.handle = handle
        self.keepalive: list[Any] = keepalive if keepalive is not None else []
        self._freed = False

    def run(
        self,
        on_ready: Optional[Callable[["Operation"], None]] = None,
        on_tick: Optional[Callable[["Operation"], None]] = None,
    ) -> None:
        """Wait until done; call on_ready when objects wait for buffers and
        on_tick after every wait slice (~10 Hz, for progress bars).

        On any exception (KeyboardInterrupt included) the operation is
        cancelled and joined before the exception propagates.
        """
        L = lib()
        try:
            while True:
                state = L.s3t_op_wait(self.handle, POLL_SECONDS)
                if on_tick is not None:
                    on_tick(self)
                if state == DONE:
                    return
                if state == READY and on_ready is not None:
                    on_ready(self)
                elif state < 0:
                    raise error_for(-state, "invalid operation handle")
        except BaseException:
            self.free()
            raise

    def error(self) -> None:
        """Raise the finished operation's error, if any."""
        call(lib().s3t_op_error, self.handle)

    def table(self) -> tuple[list[list[str]], list[list[int]], int]:
        """Return (string columns, int columns, count) of a finished op."""
        tp = ffi.new("s3t_table **")
        count = ffi.new("int64_t *")
        try:
            call(lib().s3t_op_table, self.handle, tp, count)
            strs, ints = take_table_at(tp)
        finally:
            # Ctrl-C raised as the call returned: the table is still ours.
            if tp[0] != ffi.NULL and loaded_in_this_process():
                _lib.s3t_table_free(tp[0])
            tp[0] = ffi.NULL
        return strs, ints, count[0]

    def label(self) -> str:
        """Canonical name of what the operation works on (e.g. s3://bucket/key)."""
        out = ffi.new("char **")
        code = lib().s3t_op_label(self.handle, out)
        text = take_string(out[0])
        if code != OK:
            raise error_for(code, text)
        return text

    def progress(self) -> tuple[int, int, int]:
        """(items done, bytes, requests) so far."""
        out = ffi.new("int64_t[3]")
        lib().s3t_op_progress(self.handle, out)
        return out[0], out[1], out[2]

    def free(self) -> None:
        """Cancel if running, join every engine goroutine, release the handle."""
        if not self._freed and self.handle and loaded_in_this_process():
            self._freed = True
            _lib.s3t_op_free(self.handle)
            self.keepalive.clear()

    def __del__(self) -> None:
        # The last line of defence: an Operation nobody freed (one dropped
        # by an exception between its start and the caller's `with`) is
        # cancelled and joined before what it keeps alive can go.
        self.free()

    def __enter__(self) -> "Operation":
        return self

    def __exit__(self, *exc: object) -> None:
        self.free()
