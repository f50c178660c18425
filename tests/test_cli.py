"""The command line (`s3turbo ls|du|count`, also `python -m s3turbo`), run
as a subprocess and compared with boto3."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from typing import Any, Optional, Sequence

import pytest

from helpers import SlowListServer, boto3_level, boto3_list, du_groups, populate, put_many, unpopulate
from s3turbo.testing import free_port

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_DENIED, EXIT_UNREACHABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 5, 130

MISSING = "s3turbo-test-no-such-bucket-c4e1"

# A CLI child whose SIGINT handler is Python's even if the test runner was
# started with SIGINT ignored (e.g. as a background job).
SIGINT_WRAPPER = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('s3turbo', run_name='__main__')"
)


def cli_sizes() -> dict[str, int]:
    sizes = {f"data/{a:02d}/{b:03d}.bin": (a * 131 + b * 17) % 3000 for a in range(13) for b in range(100)}
    sizes.update({f"top-{i}.txt": 10 * i for i in range(3)})
    sizes.update({"docs/guide/intro.md": 123, "docs/readme.md": 45})
    return sizes


# PUT through S3: real ETags, and names that need care (space, non-ASCII).
CLI_PUT = {"docs/ünïcødé файл.txt": b"unicode" * 3, "docs/with space.txt": b"space"}


@pytest.fixture(scope="module")
def tree(s3: Any, endpoint: Any, module_bucket: str) -> Any:
    sizes = cli_sizes()
    populate(s3, endpoint.root, module_bucket, sizes)
    put_many(s3, module_bucket, CLI_PUT)
    yield module_bucket
    unpopulate(endpoint.root, module_bucket, sizes)


@pytest.fixture(scope="module")
def env(endpoint: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The CLI's environment: the test credentials, nothing else from AWS."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    nowhere = str(tmp_path_factory.mktemp("aws") / "none")
    e.update(AWS_ACCESS_KEY_ID=endpoint.key, AWS_SECRET_ACCESS_KEY=endpoint.secret, AWS_REGION=endpoint.region,
             AWS_CONFIG_FILE=nowhere, AWS_SHARED_CREDENTIALS_FILE=nowhere, PYTHONIOENCODING="utf-8")
    return e


def run(args: Sequence[str], env: dict[str, str], endpoint: Optional[str] = None,
        exe: Optional[Sequence[str]] = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    cmd = list(exe or [sys.executable, "-m", "s3turbo"]) + list(args)
    if endpoint:
        cmd += ["--endpoint-url", endpoint]
    return subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", env=env, timeout=timeout)


def ok(p: subprocess.CompletedProcess[str]) -> list[str]:
    assert p.returncode == 0, (p.args, p.returncode, p.stderr)
    assert p.stderr == "", p.stderr
    return p.stdout.splitlines()


# --------------------------------------------------------------------------
# ls
# --------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["", "data/", "docs/", "data/07/"])
def test_ls_one_level(endpoint: Any, env: dict[str, str], s3: Any, tree: str, prefix: str) -> None:
    expected = [e["name"] + ("/" if e["type"] == "directory" else "") for e in boto3_level(s3, tree, prefix)]
    assert expected
    assert ok(run(["ls", f"{tree}/{prefix}" if prefix else tree], env, endpoint.url)) == expected


@pytest.mark.parametrize("serial", [False, True], ids=["parallel", "serial"])
@pytest.mark.parametrize("prefix", ["", "d"])
def test_ls_recursive(endpoint: Any, env: dict[str, str], s3: Any, tree: str, prefix: str, serial: bool) -> None:
    expected = [e["name"] for e in boto3_list(s3, tree, prefix)]
    assert expected
    args = ["ls", "-r", f"s3://{tree}/{prefix}"] + (["--serial"] if serial else [])
    assert ok(run(args, env, endpoint.url)) == expected


def test_ls_jsonl(endpoint: Any, env: dict[str, str], s3: Any, tree: str) -> None:
    expected = boto3_list(s3, tree)
    rows = [json.loads(line) for line in ok(run(["ls", "-r", "--format", "jsonl", tree], env, endpoint.url))]
    assert [r["name"] for r in rows] == [e["name"] for e in expected]
    assert [r["size"] for r in rows] == [e["size"] for e in expected]
    assert all(r["type"] == "file" for r in rows)
    assert [r["ETag"] for r in rows] == [e["ETag"] for e in expected]
    # one level: directories too
    rows = [json.loads(line) for line in ok(run(["ls", "--format", "jsonl", f"{tree}/docs/"], env, endpoint.url))]
    assert [(r["name"], r["type"], r["size"]) for r in rows] == [
        (e["name"], e["type"], e["size"]) for e in boto3_level(s3, tree, "docs/")]


def _parse_long(line: str) -> tuple[Optional[dt.datetime], str, str]:
    m = re.fullmatch(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d|-{19}) +(\d+|DIR) (.+)", line)
    assert m, repr(line)
    when = None if m[1].startswith("-") else dt.datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S").replace(
        tzinfo=dt.timezone.utc)
    return when, m[2], m[3]


def test_ls_long(endpoint: Any, env: dict[str, str], s3: Any, tree: str) -> None:
    expected = boto3_list(s3, tree, "docs/")
    got = [_parse_long(line) for line in ok(run(["ls", "-r", "-l", f"{tree}/docs/"], env, endpoint.url))]
    assert [(name, size) for _, size, name in got] == [(e["name"], str(e["size"])) for e in expected]
    for (when, _, name), e in zip(got, expected):
        assert when is not None and abs((when - e["LastModified"]).total_seconds()) < 1.5, (name, when)
    # one level: directories as DIR without a time
    got = [_parse_long(line) for line in ok(run(["ls", "-l", tree], env, endpoint.url))]
    level = boto3_level(s3, tree, "")
    assert [name for _, _, name in got] == [e["name"] for e in level]
    for (when, size, _), e in zip(got, level):
        if e["type"] == "directory":
            assert (when, size) == (None, "DIR")
        else:
            assert when is not None and size == str(e["size"])


# --------------------------------------------------------------------------
# du, count
# --------------------------------------------------------------------------


@pytest.mark.parametrize("serial", [False, True], ids=["parallel", "serial"])
@pytest.mark.parametrize("prefix", ["", "data/"])
def test_du_and_count(endpoint: Any, env: dict[str, str], s3: Any, tree: str, prefix: str, serial: bool) -> None:
    expected = boto3_list(s3, tree, prefix)
    path = f"{tree}/{prefix}" if prefix else tree
    extra = ["--serial"] if serial else []
    size, count = sum(e["size"] for e in expected), len(expected)
    assert ok(run(["du", path, *extra], env, endpoint.url)) == [f"{size}\t{count}\t{path}"]
    assert ok(run(["count", path, *extra], env, endpoint.url)) == [str(count)]
    groups = du_groups(((e["name"].split("/", 1)[1], e["size"]) for e in expected), tree, prefix, 1)
    lines = ok(run(["du", "-d", "1", path, *extra], env, endpoint.url))
    assert lines == [f"{s}\t{c}\t{g}" for g, (s, c) in sorted(groups.items())] + [f"{size}\t{count}\t{path} (total)"]


def test_du_formats(endpoint: Any, env: dict[str, str], s3: Any, tree: str) -> None:
    expected = boto3_list(s3, tree, "data/")
    size, count = sum(e["size"] for e in expected), len(expected)
    path = f"{tree}/data/"
    (line,) = ok(run(["du", "-H", path], env, endpoint.url))
    human, n, p = line.split("\t")
    assert (int(n), p) == (count, path)
    m = re.fullmatch(r"(\d+(?:\.\d)?) (B|KiB|MiB|GiB)", human)
    assert m, human
    scale = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}[m[2]]
    assert abs(float(m[1]) * scale - size) <= 0.05 * scale + 1, (human, size)
    rows = [json.loads(x) for x in ok(run(["du", "-d", "2", "--format", "jsonl", path], env, endpoint.url))]
    total = rows.pop()
    assert total["total"] is True and (total["path"], total["size"], total["count"]) == (path, size, count)
    assert total["requests"] >= 1
    groups = du_groups(((e["name"].split("/", 1)[1], e["size"]) for e in expected), tree, "data/", 2)
    assert {r["path"]: (r["size"], r["count"]) for r in rows} == groups
    (row,) = [json.loads(x) for x in ok(run(["count", "--format", "jsonl", path], env, endpoint.url))]
    assert row == {"path": path, "count": count}


def test_progress_option(endpoint: Any, env: dict[str, str], s3: Any, tree: str) -> None:
    expected = [e["name"] for e in boto3_list(s3, tree, "data/")]
    p = run(["ls", "-r", "--progress", f"{tree}/data/"], env, endpoint.url)
    assert p.returncode == 0 and p.stdout.splitlines() == expected
    assert p.stderr.strip()
    p = run(["du", "--progress", f"{tree}/data/"], env, endpoint.url)
    assert p.returncode == 0 and p.stderr.strip()
    # stderr is not a terminal: no progress by default
    ok(run(["du", f"{tree}/data/"], env, endpoint.url))
    ok(run(["du", "--progress", "--no-progress", f"{tree}/data/"], env, endpoint.url))


def test_console_script(endpoint: Any, env: dict[str, str], s3: Any, tree: str) -> None:
    script = os.path.join(os.path.dirname(sys.executable), "s3turbo")
    if not os.path.exists(script):
        pytest.skip(f"no console script at {script}")
    expected = boto3_list(s3, tree, "docs/")
    assert ok(run(["ls", "-r", f"{tree}/docs/"], env, endpoint.url, exe=[script])) == [e["name"] for e in expected]
    assert ok(run(["count", tree], env, endpoint.url, exe=[script])) == [str(len(boto3_list(s3, tree)))]
    p = run(["ls", MISSING], env, endpoint.url, exe=[script])
    assert p.returncode == EXIT_NOT_FOUND, p.stderr
    p = run(["--help"], env, exe=[script])
    assert p.returncode == 0 and "ls" in p.stdout and "du" in p.stdout and "count" in p.stdout


# --------------------------------------------------------------------------
# Exit codes and messages
# --------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["ls"], ["ls", "-r", "--serial"], ["du", "--serial"], ["du", "-d", "1", "--serial"],
                                  ["count", "--serial"]], ids=" ".join)
def test_missing_bucket(endpoint: Any, env: dict[str, str], args: list[str]) -> None:
    p = run([*args, f"{MISSING}/some/prefix"], env, endpoint.url)
    assert p.returncode == EXIT_NOT_FOUND, (p.returncode, p.stderr)
    assert MISSING in p.stderr and "not found" in p.stderr
    assert "Traceback" not in p.stderr
    assert p.stdout == ""


@pytest.mark.parametrize("args", [["ls"], ["ls", "-r"], ["ls", "-r", "--serial"], ["ls", "--long"]], ids=" ".join)
def test_missing_prefix(endpoint: Any, env: dict[str, str], tree: str, args: list[str]) -> None:
    """A prefix that lists nothing exits 3, as Client.ls raises
    FileNotFoundError for it (it exited 0 with no output)."""
    # ("s3://b//" is the prefix "/": a prefix like any other, not the bucket.)
    for path in (f"{tree}/no-such-prefix", f"{tree}/no-such-prefix/", f"s3://{tree}/data/99/", f"s3://{tree}//"):
        p = run([*args, path], env, endpoint.url)
        assert p.returncode == EXIT_NOT_FOUND, (path, p.returncode, p.stderr)
        assert "not found" in p.stderr and path.removeprefix("s3://") in p.stderr and p.stdout == ""


def test_empty_bucket_lists_nothing(endpoint: Any, env: dict[str, str], bucket: str) -> None:
    for args in (["ls"], ["ls", "-r"]):
        assert ok(run([*args, bucket], env, endpoint.url)) == []
        assert ok(run([*args, f"{bucket}/"], env, endpoint.url)) == []


def test_missing_bucket_parallel(endpoint: Any, env: dict[str, str]) -> None:
    # one child runs the CLI's main() many times (the outcome is a race)
    code = (
        "import sys, io, contextlib\n"
        "from s3turbo.cli import main\n"
        "codes = {}\n"
        "for args in (['du'], ['count'], ['ls', '-r']):\n"
        "    for _ in range(12):\n"
        "        err = io.StringIO()\n"
        "        with contextlib.redirect_stderr(err):\n"
        "            rc = main([*args, '--endpoint-url', sys.argv[1], sys.argv[2]])\n"
        "        codes[rc] = codes.get(rc, 0) + 1\n"
        "print(codes)\n"
    )
    p = subprocess.run([sys.executable, "-c", code, endpoint.url, f"{MISSING}/x"], capture_output=True, text=True,
                       env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == str({EXIT_NOT_FOUND: 36})


def test_wrong_secret(endpoint: Any, env: dict[str, str], tree: str) -> None:
    """A wrong secret (S3 answers SignatureDoesNotMatch, 403): exit 4."""
    bad = dict(env, AWS_SECRET_ACCESS_KEY=env["AWS_SECRET_ACCESS_KEY"] + "-wrong")
    for args in (["ls", tree], ["ls", "-r", "--serial", tree], ["count", "--serial", tree]):
        p = run(args, bad, endpoint.url)
        assert p.returncode == EXIT_DENIED, (args, p.returncode, p.stderr)
        assert "access denied" in p.stderr and "Traceback" not in p.stderr


def test_unreachable_endpoint(env: dict[str, str]) -> None:
    """A closed port: exit 5, quickly with --retries 1 (the default 5 attempts
    with backoff take 10-30 s)."""
    url = f"http://127.0.0.1:{free_port()}"
    for args in (["ls", "bkt"], ["ls", "-r", "bkt"], ["du", "bkt"], ["count", "--serial", "bkt/x/"]):
        t0 = time.monotonic()
        p = run([*args, "--max-concurrency", "1", "--retries", "1"], env, url, timeout=60)
        assert p.returncode == EXIT_UNREACHABLE, (args, p.returncode, p.stderr)
        assert "cannot reach the endpoint" in p.stderr and "Traceback" not in p.stderr
        assert time.monotonic() - t0 < 10


@pytest.mark.parametrize("args", [
    [], ["bogus", "bkt"], ["ls"], ["du"], ["count"], ["ls", "--format", "xml", "bkt"], ["du", "-d", "x", "bkt"],
    ["ls", "--no-such-option", "bkt"],
], ids=lambda a: " ".join(a) or "no-args")
def test_usage_errors(env: dict[str, str], args: list[str]) -> None:
    p = run(args, env)
    assert p.returncode == EXIT_USAGE, (p.returncode, p.stderr)
    assert "usage:" in p.stderr and p.stdout == ""


@pytest.mark.parametrize("args", [["ls", ""], ["du", "-d", "-1", "bkt"], ["du", "-d", "3000000000", "bkt"],
                                  ["count", "s3://"]], ids=" ".join)
def test_invalid_arguments(endpoint: Any, env: dict[str, str], args: list[str]) -> None:
    p = run(args, env, endpoint.url)
    assert p.returncode == EXIT_USAGE, (p.returncode, p.stderr)
    assert p.stderr.startswith("s3turbo: ") and "Traceback" not in p.stderr


def test_output_encoding_error_is_not_usage(endpoint: Any, env: dict[str, str], s3: Any, bucket: str) -> None:
    # A key the terminal's encoding cannot show stops the output part-way:
    # an error (1) saying so, not a usage error (2) with the codec's words.
    s3.put_object(Bucket=bucket, Key="a-plain", Body=b"1")
    s3.put_object(Bucket=bucket, Key="b-\u00e9t\u00e9", Body=b"1")
    p = run(["ls", "-r", bucket], {**env, "PYTHONIOENCODING": "ascii"}, endpoint.url)
    assert p.returncode == EXIT_ERROR, (p.returncode, p.stderr)
    assert "cannot write a name in ascii" in p.stderr and "Traceback" not in p.stderr
    assert p.stdout.splitlines() == [f"{bucket}/a-plain"]


# --------------------------------------------------------------------------
# Pipes and Ctrl-C
# --------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [[], ["--serial"], ["--format", "jsonl"]], ids=["parallel", "serial", "jsonl"])
def test_head_closes_pipe(env: dict[str, str], extra: list[str]) -> None:
    """`s3turbo ls -r ... | head -1`: the reader goes away mid-listing (an
    endless one, from a fake endpoint); the CLI exits 0 without a traceback."""
    with SlowListServer(delay=0) as srv:
        p = subprocess.Popen([sys.executable, "-m", "s3turbo", "ls", "-r", *extra, "--endpoint-url", srv.url,
                              "fake"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        try:
            first = p.stdout.readline()  # type: ignore[union-attr]
            assert b"fake/k000000000000" in first
            p.stdout.close()  # type: ignore[union-attr]
            rc = p.wait(timeout=20)
            err = p.stderr.read().decode()  # type: ignore[union-attr]
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stderr.close()  # type: ignore[union-attr]
    assert rc == 0, (rc, err)
    assert "Traceback" not in err and "Exception ignored" not in err and "BrokenPipe" not in err, err


@pytest.mark.parametrize("args", [["ls", "-r"], ["ls", "-r", "--serial"], ["du"], ["count", "--serial"]],
                         ids=" ".join)
def test_ctrl_c(env: dict[str, str], args: list[str]) -> None:
    """SIGINT while the listing waits for a slow page: exit 130 promptly."""
    with SlowListServer(delay=60) as srv:
        p = subprocess.Popen([sys.executable, "-c", SIGINT_WRAPPER, *args, "--endpoint-url", srv.url, "fake"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        try:
            if args[0] == "ls":
                assert p.stdout.readline().startswith(b"fake/k")  # type: ignore[union-attr]
            deadline = time.monotonic() + 20
            while srv.requests < 2 and time.monotonic() < deadline:  # the first page was served
                time.sleep(0.05)
            time.sleep(0.3)
            assert p.poll() is None, p.stderr.read()  # type: ignore[union-attr]
            t0 = time.monotonic()
            p.send_signal(signal.SIGINT)
            rc = p.wait(timeout=15)
            elapsed = time.monotonic() - t0
            out, err = p.communicate()
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert rc == EXIT_INTERRUPTED, (rc, err)
    assert "interrupted" in err.decode() and "Traceback" not in err.decode()
    assert elapsed < 1.5, f"exited {elapsed:.2f} s after SIGINT"
