"""Client configuration as boto3 reads it: the environment as Python sees
it, explicit options that must not fall back to defaults, secrets kept out
of messages, and retries bounding a stalled read."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

import s3turbo
from helpers import RelayProxy


def _clean_env(tmp: Path) -> dict[str, str]:
    """A child's environment without AWS settings or the user's files."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=str(tmp), AWS_EC2_METADATA_DISABLED="true", PYTHONIOENCODING="utf-8")
    return env


def _child(code: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_environment_changes_reach_the_engine(endpoint: Any, bucket: str, s3: Any, tmp_path: Path) -> None:
    """os.environ set or deleted after the engine loaded is what a new
    Client reads, as boto3 does: the Go runtime had kept the environment of
    the process's start, so a test pointing AWS_CONFIG_FILE at a sandbox
    still signed with the user's default profile."""
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"x")
    prod, sandbox = tmp_path / "prod", tmp_path / "sandbox"
    prod.write_text(f"[default]\naws_access_key_id = AKIA_PROD\naws_secret_access_key = nope\n")
    sandbox.write_text(f"[profile sandbox]\naws_access_key_id = {endpoint.key}\n"
                       f"aws_secret_access_key = {endpoint.secret}\nendpoint_url = {endpoint.url}\n")
    env = _clean_env(tmp_path)
    env.update(AWS_CONFIG_FILE=str(prod), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    code = """
        import os, sys, s3turbo
        url, bucket, sandbox = sys.argv[1:4]
        try:  # loads the engine with the 'prod' environment
            s3turbo.Client(endpoint_url=url, retries=1).ls(bucket)
            print("prod: listed")
        except PermissionError:
            print("prod: denied")
        os.environ["AWS_CONFIG_FILE"] = sandbox
        os.environ["AWS_PROFILE"] = "sandbox"
        print("sandbox:", s3turbo.Client(retries=1).ls(bucket, detail=False))
        del os.environ["AWS_PROFILE"]
        try:  # no profile now: the [default] of the sandbox file has none
            s3turbo.Client(endpoint_url=url, retries=1).ls(bucket)
            print("unset: listed")
        except OSError as e:
            print("unset:", type(e).__name__)
    """
    p = _child(code, env, endpoint.url, bucket, str(sandbox))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "prod: denied"
    assert lines[1] == f"sandbox: ['{bucket}/a.txt']"
    assert lines[2].startswith("unset:") and lines[2] != "unset: listed"
    assert p.stderr == ""  # no SDK log lines (an IMDS warning) on the user's stderr


@pytest.mark.parametrize("kw, name", [
    (dict(retries=0), "retries"), (dict(max_concurrency=0), "max_concurrency"), (dict(part_size=0), "part_size"),
    (dict(read_timeout=0), "read_timeout"), (dict(connect_timeout=-1.0), "connect_timeout"),
    (dict(endpoint_url="localhost:9000"), "endpoint_url"), (dict(verify="/nonexistent/ca.pem"), "ca.pem"),
], ids=lambda v: str(v) if isinstance(v, dict) else "")
def test_explicit_options_are_not_defaults(endpoint: Any, kw: dict[str, Any], name: str) -> None:
    """An explicit 0 is refused by name, not read as "the default" (retries=0
    made five attempts)."""
    args = {**endpoint.client_kwargs(), **kw}
    with pytest.raises(ValueError, match=name):
        s3turbo.Client(**args).ls("any-bucket")


def test_fsspec_verify_path_is_kept() -> None:
    """client_kwargs={"verify": <CA bundle>} (as s3fs/botocore take it) was
    turned into True, and the private CA ignored."""
    fs = s3turbo.S3FileSystem(endpoint_url="http://127.0.0.1:9", key="k", secret="s",
                              client_kwargs={"verify": "/etc/ca.pem"}, skip_instance_cache=True)
    assert fs.client._args["verify"] == "/etc/ca.pem"
    fs = s3turbo.S3FileSystem(endpoint_url="http://127.0.0.1:9", key="k", secret="s",
                              client_kwargs={"verify": False}, skip_instance_cache=True)
    assert fs.client._args["verify"] is False
    with pytest.raises(ValueError, match="retries"):
        s3turbo.S3FileSystem(endpoint_url="http://127.0.0.1:9", key="k", secret="s",
                             config_kwargs={"retries": {"total_max_attempts": 0}},
                             skip_instance_cache=True).client.ls("b")


def test_credential_process_secrets_stay_out_of_messages(endpoint: Any, tmp_path: Path) -> None:
    """A credential_process that prints its JSON and then another line: the
    error, in the library and on the CLI's stderr, does not quote it."""
    helper = tmp_path / "creds.sh"
    helper.write_text("#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"AKIAEXAMPLE\", "
                      "\"SecretAccessKey\": \"TOPSECRET-wJal\", \"SessionToken\": \"SESSIONTOKEN-Fwo\"}'\n"
                      "echo 'token refreshed, have a nice day'\n")
    helper.chmod(0o700)
    config = tmp_path / "config"
    config.write_text(f"[profile proc]\ncredential_process = {helper}\n")
    env = _clean_env(tmp_path)
    env.update(AWS_CONFIG_FILE=str(config), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    code = """
        import sys, s3turbo
        try:
            s3turbo.Client(endpoint_url=sys.argv[1], profile="proc", retries=1).ls("bkt")
        except Exception as e:
            print(type(e).__name__, e)
    """
    lib = _child(code, env, endpoint.url)
    cli = subprocess.run([sys.executable, "-m", "s3turbo", "ls", "--profile", "proc", "--retries", "1",
                          "--endpoint-url", endpoint.url, "bkt"], capture_output=True, text=True, env=env, timeout=120)
    assert "process output" in lib.stdout and cli.returncode != 0
    for out in (lib.stdout, lib.stderr, cli.stdout, cli.stderr):
        assert "TOPSECRET" not in out and "SESSIONTOKEN" not in out, out


class StallingServer:
    """Answers every GET with 200, a Content-Length of 100 000 and 5 bytes,
    then nothing until it stops; counts the GETs."""

    def __init__(self) -> None:
        self.gets = 0
        self.stop = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer.gets += 1
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.send_header("ETag", '"e"')
                self.end_headers()
                self.wfile.write(b"hello")
                self.wfile.flush()
                outer.stop.wait(30)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def stalling() -> Iterator[StallingServer]:
    srv = StallingServer()
    yield srv
    srv.close()


@pytest.mark.parametrize("retries", [1, 2])
def test_stalled_body_is_read_at_most_retries_times(stalling: StallingServer, retries: int) -> None:
    """retries bounds the reads of a body that stalls (with retries=1, five
    GETs were sent: each failed body was fetched again three more times)."""
    c = s3turbo.Client(endpoint_url=stalling.url, key="k", secret="s", retries=retries, read_timeout=0.5)
    t0 = time.monotonic()
    with pytest.raises(TimeoutError, match="bkt/obj"):
        c.get_objects(["bkt/obj"])
    assert stalling.gets == retries
    assert time.monotonic() - t0 < retries * 0.5 + 5


class RegionProxy(RelayProxy):
    """Forwards requests to an S3 server, refusing those signed for another
    region than ``region`` as S3 does: 400 AuthorizationHeaderMalformed
    naming the region in the body (a HEAD: 400, no body, the region in
    x-amz-bucket-region). Counts the refusals."""

    def __init__(self, upstream: str, region: str) -> None:
        self.region = region
        self.refused = 0
        super().__init__(upstream)

    def intercept(self, h: Any) -> bool:
        auth = h.headers.get("Authorization", "")
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/") if "Credential=" in auth else []
        if len(scope) < 5 or scope[-3] == self.region:
            return False
        self.refused += 1
        out = b"" if h.command == "HEAD" else (
            b"<Error><Code>AuthorizationHeaderMalformed</Code><Message>the region is wrong</Message>"
            b"<Region>" + self.region.encode() + b"</Region></Error>")
        h.send_response(400)
        if h.command == "HEAD":
            h.send_header("x-amz-bucket-region", self.region)
        h.send_header("Content-Length", str(len(out)))
        h.end_headers()
        h.wfile.write(out)
        return True


def test_bucket_in_another_region_is_found(endpoint: Any, bucket: str, s3: Any, tmp_path: Path) -> None:
    """A client whose region is not the bucket's (say the chain's default,
    us-east-1, against a bucket in eu-west-1) finds the bucket's region from
    S3's refusal and remembers it, as boto3 does. Every call used to fail
    with ValueError (AuthorizationHeaderMalformed)."""
    if endpoint.root is None:
        pytest.skip("needs the suite's own server behind a proxy")
    objects = {f"r/{i:03d}": os.urandom(100 + i) for i in range(40)}
    for k, v in objects.items():
        s3.put_object(Bucket=bucket, Key=k, Body=v)
    proxy = RegionProxy(endpoint.url, region=endpoint.region)
    try:
        import boto3

        ref = boto3.client("s3", endpoint_url=proxy.url, aws_access_key_id=endpoint.key,
                           aws_secret_access_key=endpoint.secret, region_name="eu-west-1")
        want = sorted(o["Key"] for o in ref.list_objects_v2(Bucket=bucket)["Contents"])
        assert want == sorted(objects)  # boto3 is redirected too
        proxy.refused = 0
        c = s3turbo.Client(endpoint_url=proxy.url, key=endpoint.key, secret=endpoint.secret, region="eu-west-1")
        assert [e["name"] for e in c.list(bucket)] == [f"{bucket}/{k}" for k in sorted(objects)]
        assert c.get_objects([f"{bucket}/{k}" for k in objects]) == list(objects.values())
        c.put_objects([f"{bucket}/r/new"], [b"written elsewhere"])
        assert s3.get_object(Bucket=bucket, Key="r/new")["Body"].read() == b"written elsewhere"
        assert [s["size"] for s in c.stat([f"{bucket}/r/000", f"{bucket}/r/new"])] == [100, 17]
        c.download_files([f"{bucket}/r/001"], [str(tmp_path / "one")])
        assert (tmp_path / "one").read_bytes() == objects["r/001"]
        # Refused once on the lean path (the error names the region), and
        # for the SDK's operations once more plus the HEAD that asks.
        assert 1 <= proxy.refused <= 4, proxy.refused
        again = proxy.refused
        assert len(c.list_columns(bucket, workers=8)) == len(objects) + 1
        assert proxy.refused == again
    finally:
        proxy.close()


def test_missing_credentials_and_profile_are_classified(tmp_path: Path) -> None:
    """No credentials anywhere is a PermissionError (boto3: NoCredentialsError,
    about access), and a profile that does not exist a ValueError naming it
    (boto3: ProfileNotFound); both were a bare OSError. The CLI exits 4
    (denied) and 2 (usage) for them."""
    env = _clean_env(tmp_path)
    code = """
        import sys, s3turbo
        for kw in (dict(endpoint_url="http://127.0.0.1:9", retries=1), dict(profile="no-such-profile")):
            try:
                s3turbo.Client(**kw).ls("bkt")
            except Exception as e:
                print(type(e).__name__, "|", e)
    """
    p = _child(code, env)
    assert p.returncode == 0, p.stderr
    first, second = p.stdout.splitlines()
    assert first.startswith("PermissionError |") and "credentials" in first, first
    assert second.startswith("ValueError |") and "no-such-profile" in second, second
    for args, want in ((["--endpoint-url", "http://127.0.0.1:9"], 4), (["--profile", "no-such-profile"], 2)):
        cli = subprocess.run([sys.executable, "-m", "s3turbo", "ls", "--retries", "1", *args, "bkt"],
                             capture_output=True, text=True, env=env, timeout=120)
        assert cli.returncode == want, (args, cli.returncode, cli.stderr)
