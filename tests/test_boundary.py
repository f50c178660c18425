"""Process boundaries and failure modes: fork guard, Ctrl-C, spawn workers,
connection/credential errors and secret hygiene.

Anything that forks or receives signals runs in a child interpreter started
with subprocess, so the pytest process itself never forks with the Go engine
loaded.
"""

from __future__ import annotations

import errno
import multiprocessing
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any, Callable, Iterator

import pytest

import s3turbo
from helpers import fetch_in_worker, put_many
from s3turbo.testing import free_port

TIMEOUT = 60  # seconds any child interpreter may take before the test fails (never hang)


def child_env(endpoint: Any, bucket: str) -> dict[str, str]:
    return {
        **os.environ,
        "S3T_ENDPOINT": endpoint.url, "S3T_KEY": endpoint.key, "S3T_SECRET": endpoint.secret,
        "S3T_REGION": endpoint.region, "S3T_BUCKET": bucket,
        "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1",
    }


PRELUDE = textwrap.dedent("""
    import os, sys, time, signal
    import s3turbo
    E = os.environ
    BUCKET = E["S3T_BUCKET"]
    def make_client(**kw):
        return s3turbo.Client(endpoint_url=E["S3T_ENDPOINT"], key=E["S3T_KEY"], secret=E["S3T_SECRET"],
                              region=E["S3T_REGION"], **kw)
""")


def run_script(script: str, endpoint: Any, bucket: str, *args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(script), *args],
                          env=child_env(endpoint, bucket), capture_output=True, text=True, timeout=timeout)


# -- (a) fork ---------------------------------------------------------------------

FORK_SCRIPT = """
    c = make_client()
    assert c.ls(BUCKET, detail=False) == [f"{BUCKET}/hello.txt"]   # the engine is now loaded

    def attempt(name, fn):
        try:
            fn()
        except RuntimeError as e:
            msg = str(e)
            return f"{name}: ok" if ("spawn" in msg or "forkserver" in msg) else f"{name}: RuntimeError without hint: {msg}"
        except BaseException as e:
            return f"{name}: {type(e).__name__}: {e}"
        return f"{name}: no error"

    pid = os.fork()
    if pid == 0:
        results = [
            attempt("ls", lambda: c.ls(BUCKET)),
            attempt("get_objects", lambda: c.get_objects([f"{BUCKET}/hello.txt"])),
            attempt("get_objects_into", lambda: c.get_objects_into([f"{BUCKET}/hello.txt"], [bytearray(5)])),
            attempt("index_tar", lambda: c.index_tar(f"{BUCKET}/x.tar")),
            attempt("new client", lambda: make_client().ls(BUCKET)),
        ]
        c.close()  # must not raise or crash in the child
        print("\\n".join(results), flush=True)
        sys.exit(42 if all(r.endswith(": ok") for r in results) else 43)   # normal interpreter shutdown

    deadline = time.monotonic() + 30
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            print("CHILD HUNG", flush=True)
            sys.exit(3)
        time.sleep(0.02)
    code = os.waitstatus_to_exitcode(status)
    print(f"child exit code {code}", flush=True)
    # The parent is unaffected.
    assert c.get_objects([f"{BUCKET}/hello.txt"]) == [bytearray(b"hello")]
    print("parent ok", flush=True)
"""


def test_fork_after_engine_loaded_raises_runtime_error(endpoint: Any, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="hello.txt", Body=b"hello")
    r = run_script(FORK_SCRIPT, endpoint, bucket)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "child exit code 42" in r.stdout, out
    for op in ("ls", "get_objects", "get_objects_into", "index_tar", "new client"):
        assert f"{op}: ok" in r.stdout, out
    assert "parent ok" in r.stdout, out


FORK_BEFORE_LOAD_SCRIPT = """
    from s3turbo import _ffi
    assert not _ffi.loaded_in_this_process()
    pid = os.fork()
    if pid == 0:
        try:
            ok = make_client().get_objects([f"{BUCKET}/hello.txt"]) == [bytearray(b"hello")]
        except BaseException as e:
            print(f"child error: {type(e).__name__}: {e}", flush=True)
            os._exit(2)
        os._exit(0 if ok else 1)
    deadline = time.monotonic() + 30
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            sys.exit(3)
        time.sleep(0.02)
    print(f"child exit code {os.waitstatus_to_exitcode(status)}", flush=True)
"""


def test_fork_before_engine_loaded_is_fine(endpoint: Any, s3: Any, bucket: str) -> None:
    """Only a fork *after* loading is poisoned: a child of a fresh process may load the engine."""
    s3.put_object(Bucket=bucket, Key="hello.txt", Body=b"hello")
    r = run_script(FORK_BEFORE_LOAD_SCRIPT, endpoint, bucket)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "child exit code 0" in r.stdout, r.stdout + r.stderr


# -- (b) Ctrl-C -----------------------------------------------------------------

SMALL_SIZE = 4096
BIG_SIZE = 2 << 20

CTRL_C_SCRIPT = """
    mode = sys.argv[1]
    c = make_client(max_concurrency=2)
    if mode == "get_objects":
        # Tens of thousands of small GETs: many seconds of work, little memory.
        paths = [f"{BUCKET}/small/{i % 8}" for i in range(60000)]
    else:
        paths = [f"{BUCKET}/big/{i % 4}" for i in range(20000)]
        shared = bytearray(__BIG__)
        bufs = [shared] * len(paths)
    print("started", flush=True)
    t0 = time.monotonic()
    try:
        if mode == "get_objects":
            c.get_objects(paths)
        else:
            c.get_objects_into(paths, bufs)
    except KeyboardInterrupt:
        print(f"interrupted after {time.monotonic() - t0:.2f}s", flush=True)
        if mode == "get_objects_into_recover":
            # The engine must not write into our buffers once the call returned...
            shared[:] = bytes(len(shared))
            time.sleep(0.5)
            print("untouched" if not any(shared) else "WRITTEN AFTER RETURN", flush=True)
            # ...and the client stays usable.
            got = c.get_objects([f"{BUCKET}/big/1", f"{BUCKET}/small/3"])
            ok = got == [bytearray(b"\\x01" * __BIG__), bytearray(b"\\x03" * __SMALL__)]
            print("recovered" if ok else "WRONG DATA AFTER CANCEL", flush=True)
            sys.exit(0)
        raise
    print(f"finished after {time.monotonic() - t0:.2f}s", flush=True)
""".replace("__BIG__", str(BIG_SIZE)).replace("__SMALL__", str(SMALL_SIZE))


@pytest.fixture(scope="module")
def ctrl_c_bucket(s3: Any, module_bucket: str) -> str:
    objects = {f"small/{i}": bytes([i]) * SMALL_SIZE for i in range(8)}
    objects.update({f"big/{i}": bytes([i]) * BIG_SIZE for i in range(4)})
    put_many(s3, module_bucket, objects)
    return module_bucket


def interrupt_child(endpoint: Any, bucket: str, mode: str) -> tuple[int, str, str, float]:
    """Start the Ctrl-C script, SIGINT it once it is busy; (returncode, stdout, stderr, seconds to exit)."""
    proc = subprocess.Popen([sys.executable, "-c", PRELUDE + textwrap.dedent(CTRL_C_SCRIPT), mode],
                            env=child_env(endpoint, bucket), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline() if ready else ""
        assert line.strip() == "started", f"child did not start: {line!r} {proc.stderr.read() if proc.poll() is not None else ''}"
        time.sleep(1.0)  # well inside the batch
        assert proc.poll() is None, "the batch finished before SIGINT; make it larger"
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"child still running 15 s after SIGINT; stdout={out!r} stderr={err[-3000:]!r}")
        elapsed = time.monotonic() - t0
        return proc.returncode, line + out, err, elapsed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("mode", ["get_objects", "get_objects_into"])
def test_ctrl_c_cancels_promptly(mode: str, endpoint: Any, ctrl_c_bucket: str) -> None:
    code, out, err, elapsed = interrupt_child(endpoint, ctrl_c_bucket, mode)
    assert "finished" not in out, f"batch completed despite SIGINT: {out}"
    assert "interrupted" in out, out + err
    assert "KeyboardInterrupt" in err, err[-3000:]
    assert "Traceback" in err
    assert code in (-signal.SIGINT, 128 + signal.SIGINT, 1), (code, err[-3000:])
    assert elapsed < 5.0, f"took {elapsed:.1f}s to exit after SIGINT"


def test_ctrl_c_leaves_buffers_and_client_usable(endpoint: Any, ctrl_c_bucket: str) -> None:
    code, out, err, elapsed = interrupt_child(endpoint, ctrl_c_bucket, "get_objects_into_recover")
    assert "interrupted" in out, out + err
    assert "untouched" in out, out + err
    assert "recovered" in out, out + err
    assert code == 0, err[-3000:]
    assert elapsed < 5.0


# -- (c) spawn / forkserver workers ------------------------------------------------


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_pickled_client_in_worker_pool(method: str, client: s3turbo.Client, s3: Any, bucket: str) -> None:
    objects = {f"w/{i:03d}": os.urandom(i * 1000) for i in range(40)}
    put_many(s3, bucket, objects)
    keys = list(objects)
    # Load the engine in this process first: the Client must still pickle by arguments.
    assert bytes(client.get_objects([f"{bucket}/{keys[1]}"])[0]) == objects[keys[1]]
    restored = pickle.loads(pickle.dumps(client))
    assert restored.__getstate__() == client.__getstate__()
    assert restored._handle is None
    chunks = [keys[i : i + 10] for i in range(0, len(keys), 10)]
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(2) as pool:
        res = pool.map_async(fetch_in_worker, [(client, [f"{bucket}/{k}" for k in ch]) for ch in chunks])
        results = res.get(timeout=TIMEOUT)
    pids = {pid for pid, _ in results}
    assert os.getpid() not in pids
    assert [b for _, bs in results for b in bs] == [objects[k] for k in keys]


# -- (d) errors ----------------------------------------------------------------------


@pytest.fixture
def dead_endpoint() -> str:
    return f"http://127.0.0.1:{free_port()}"


def _ops(c: s3turbo.Client, bucket: str, tmp: str) -> dict[str, Callable[[], Any]]:
    return {
        "ls": lambda: c.ls(bucket),
        "ls-prefix": lambda: c.ls(f"{bucket}/some/prefix"),
        "get_objects": lambda: c.get_objects([f"{bucket}/a", f"{bucket}/b"]),
        "get_objects_into": lambda: c.get_objects_into([f"{bucket}/a"], [bytearray(1)]),
        "index_tar": lambda: c.index_tar(f"s3://{bucket}/x.tar"),
        "index_tar-output": lambda: c.index_tar(f"{bucket}/x.tar", os.path.join(tmp, "out.jsonl")),
    }


OPS = ["ls", "ls-prefix", "get_objects", "get_objects_into", "index_tar", "index_tar-output"]


@pytest.mark.parametrize("op", OPS)
def test_connection_refused(op: str, endpoint: Any, dead_endpoint: str, tmp_path: Any) -> None:
    c = s3turbo.Client(endpoint_url=dead_endpoint, key=endpoint.key, secret=endpoint.secret, region="us-east-1",
                       connect_timeout=2, retries=1)
    t0 = time.monotonic()
    with pytest.raises(ConnectionError) as ei:
        _ops(c, "some-bucket", str(tmp_path))[op]()
    assert isinstance(ei.value, OSError)
    assert ei.value.errno == errno.ECONNREFUSED, ei.value
    assert time.monotonic() - t0 < 10
    assert endpoint.secret not in str(ei.value)
    assert os.listdir(tmp_path) == []


KEPT_ERROR_SCRIPT = """
    import gc
    c = s3turbo.Client(endpoint_url=E["S3T_ENDPOINT"], key=E["S3T_KEY"], secret="not-the-secret",
                       region=E["S3T_REGION"], retries=1, part_size=5 << 20)
    def attempt(name, fn):
        try:
            fn()
        except OSError as e:
            kept = e          # a traceback kept: a frame <-> traceback cycle the collector clears
            print(name, type(e).__name__, flush=True)
            return
        print(name, "no error", flush=True)
    attempt("put_objects", lambda: c.put_objects([f"{BUCKET}/k"], [memoryview(bytearray(1000))]))
    attempt("get_objects_into", lambda: c.get_objects_into([f"{BUCKET}/hello.txt"], [memoryview(bytearray(5))]))
    attempt("read_range_into", lambda: c.read_range_into(f"{BUCKET}/hello.txt", 0, memoryview(bytearray(5))))
    def write():
        w = c.open_writer(f"{BUCKET}/w")
        w.write(memoryview(bytearray(12 << 20)))
        w.close()
    attempt("writer", write)
    buf = bytearray(5)
    attempt("get_objects_into-resizable", lambda: c.get_objects_into([f"{BUCKET}/hello.txt"], [buf]))
    buf.extend(b"more")   # not left exported by the failed call
    gc.collect()
    print("survived", flush=True)
"""


def test_failed_calls_leave_no_buffer_exported(endpoint: Any, s3: Any, bucket: str) -> None:
    """A call that fails while the engine holds views of the caller's
    buffers releases them: a kept exception used to leave a memoryview
    exported, and the garbage collector clearing it crashed the interpreter
    (SIGSEGV after "BufferError: memoryview has 1 exported buffer")."""
    s3.put_object(Bucket=bucket, Key="hello.txt", Body=b"hello")
    p = run_script(KEPT_ERROR_SCRIPT, endpoint, bucket)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "BufferError" not in p.stderr, p.stderr
    lines = p.stdout.split("\n")
    for name in ("put_objects", "get_objects_into", "read_range_into", "writer", "get_objects_into-resizable"):
        assert f"{name} PermissionError" in lines, p.stdout
    assert "survived" in lines


FULL_DISK_SCRIPT = """
    import errno, resource
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a write past the limit fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    dest = sys.argv[1]
    try:
        make_client().download_files([f"{BUCKET}/big"], [dest])
    except OSError as e:
        print(type(e).__name__, e.errno, e)
        sys.exit(0 if e.errno == errno.EFBIG and type(e) is OSError and "big" in str(e) else 1)
    print("no error")
    sys.exit(1)
"""


def test_local_errors_carry_their_errno(endpoint: Any, client: s3turbo.Client, s3: Any, bucket: str,
                                        tmp_path: Any) -> None:
    """A local file error is raised as Python's own I/O raises it: with its
    errno, as the subclass Python picks for that errno (boto3's download of
    a full disk raises OSError(ENOSPC)); the message still names the item."""
    s3.put_object(Bucket=bucket, Key="big", Body=b"z" * (3 << 20))
    (tmp_path / "afile").write_bytes(b"")
    with pytest.raises(NotADirectoryError) as ei:
        client.download_files([f"{bucket}/big"], [str(tmp_path / "afile" / "sub" / "x")])
    assert ei.value.errno == errno.ENOTDIR and f"{bucket}/big" in str(ei.value)
    with pytest.raises(NotADirectoryError) as ei:
        client.index_tar(f"{bucket}/big", str(tmp_path / "afile" / "index.jsonl"))
    assert ei.value.errno == errno.ENOTDIR
    with pytest.raises(FileNotFoundError) as fe:
        client.upload_files([str(tmp_path / "missing")], [f"{bucket}/up"])
    assert fe.value.errno == errno.ENOENT and "missing" in str(fe.value)
    # A write the file system refuses (a full disk, here the file size limit).
    p = run_script(FULL_DISK_SCRIPT, endpoint, bucket, str(tmp_path / "out"))
    assert p.returncode == 0, p.stdout + p.stderr
    assert not os.path.exists(tmp_path / "out")


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server that accepts connections and never answers."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    conns: list[socket.socket] = []
    srv.settimeout(0.05)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    stop.set()
    t.join()
    for c in conns:
        c.close()
    srv.close()


@pytest.mark.parametrize("op", ["ls", "get_objects"])
def test_read_timeout(op: str, endpoint: Any, silent_server: str, tmp_path: Any) -> None:
    c = s3turbo.Client(endpoint_url=silent_server, key=endpoint.key, secret=endpoint.secret, region="us-east-1",
                       read_timeout=1, connect_timeout=1, retries=1)
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        _ops(c, "some-bucket", str(tmp_path))[op]()
    assert time.monotonic() - t0 < 10


WRONG_SECRET = "WRONG-secret-1b4f9e2d7c"


# (An unknown access key id is not tested: versitygw answers it with 404 XAdminUserNotFound
# instead of S3's 403 InvalidAccessKeyId.)
@pytest.mark.parametrize("op", OPS)
def test_wrong_secret(op: str, endpoint: Any, s3: Any, bucket: str, tmp_path: Any) -> None:
    s3.put_object(Bucket=bucket, Key="a", Body=b"a")
    c = endpoint.client(secret=WRONG_SECRET, retries=1)
    with pytest.raises(PermissionError) as ei:
        _ops(c, bucket, str(tmp_path))[op]()
    exc: BaseException | None = ei.value
    while exc is not None:  # the whole chain
        for text in (str(exc), repr(exc), repr(exc.args)):
            assert WRONG_SECRET not in text
            assert endpoint.secret not in text
        exc = exc.__cause__ or exc.__context__
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("kw", [
    dict(anon=True, key="x", secret="y"),
    dict(anon=True, token="t"),
    dict(key="only-key"),
    dict(part_size=1000),
    dict(part_size=6 << 30),
    dict(max_concurrency=-1),
    dict(max_concurrency=5000),
    dict(retries=-1),
    dict(retry_mode="bogus"),
], ids=lambda kw: ",".join(kw))
def test_invalid_options_raise_value_error_on_first_use(kw: dict[str, Any], dead_endpoint: str) -> None:
    c = s3turbo.Client(endpoint_url=dead_endpoint, region="us-east-1", **kw)  # construction is lazy
    with pytest.raises(ValueError):
        c.ls("bucket")


def test_invalid_options_fail_before_any_request(dead_endpoint: str) -> None:
    """Whatever the class, a contradictory configuration fails without touching the network."""
    c = s3turbo.Client(endpoint_url=dead_endpoint, region="us-east-1", anon=True, key="x", secret="y")
    with pytest.raises(Exception) as ei:
        c.ls("bucket")
    assert not isinstance(ei.value, ConnectionError)
    assert "anon" in str(ei.value)


def test_repr_hides_credentials(endpoint: Any, client: s3turbo.Client, bucket: str) -> None:
    secret, token = "super-secret-value-123", "session-token-value-456"
    c = s3turbo.Client(endpoint_url=endpoint.url, key="AKIAEXAMPLEKEY", secret=secret, token=token)
    for text in (repr(c), str(c), repr(pickle.loads(pickle.dumps(c))), f"{c!r}"):
        assert secret not in text
        assert token not in text
        assert "AKIAEXAMPLEKEY" not in text
        assert "***" in text
        assert endpoint.url in text
    client.ls(bucket)  # with a live engine handle
    assert endpoint.secret not in repr(client)


def test_anonymous_requests_are_denied(endpoint: Any, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="a", Body=b"a")
    c = endpoint.client(key=None, secret=None, anon=True)
    with pytest.raises(PermissionError):
        c.ls(bucket)
    with pytest.raises(PermissionError):
        c.get_objects([f"{bucket}/a"])


# -- resources -----------------------------------------------------------------------

CONNECTIONS_SCRIPT = """
    import gc
    from urllib.parse import urlparse
    port = urlparse(E["S3T_ENDPOINT"]).port

    def established():
        inodes = set()
        for fd in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        n = 0
        for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
            try:
                lines = open(table).read().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                f = line.split()
                if int(f[2].rsplit(":", 1)[1], 16) == port and f[3] == "01" and f[9] in inodes:
                    n += 1
        return n

    c = make_client(part_size=64 * 1024, max_concurrency=16)
    c.get_objects([f"{BUCKET}/big/0"])
    print("open", established(), flush=True)
    c.close()
    gc.collect()
    time.sleep(0.3)
    print("after-close", established(), flush=True)

    # close() while another thread's batch runs: the batch goes on making
    # requests; its connections are closed when it ends.
    import threading
    batch = threading.Thread(target=c.get_objects, args=([f"{BUCKET}/small/{i % 8}" for i in range(3000)],))
    batch.start()
    while not established() and batch.is_alive():
        time.sleep(0.001)
    c.close()
    print("closed-during-batch", int(batch.is_alive()), flush=True)
    batch.join()
    deadline = time.monotonic() + 5
    while established() and time.monotonic() < deadline:
        time.sleep(0.05)
    print("after-batch", established(), flush=True)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/net/tcp"), reason="needs Linux /proc")
def test_close_releases_connections(endpoint: Any, ctrl_c_bucket: str) -> None:
    r = run_script(CONNECTIONS_SCRIPT, endpoint, ctrl_c_bucket)
    assert r.returncode == 0, r.stderr
    counts = dict(line.split() for line in r.stdout.splitlines())
    assert int(counts["open"]) > 0, "the check itself is broken: no connections seen"
    assert int(counts["after-close"]) == 0, r.stdout
    assert int(counts["closed-during-batch"]) == 1, "the check itself is broken: the batch ended before close()"
    assert int(counts["after-batch"]) == 0, r.stdout  # 16 stayed open for 90 s before
