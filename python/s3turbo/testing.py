"""A real, local S3-compatible server for tests, demos and benchmarks.

:class:`LocalS3Server` runs versitygw (Apache-2.0, Go) with its ``posix``
backend in a temporary directory on a free loopback port, and stops it (and
removes its data) when done, even on failure. ``python -m s3turbo.testing``
starts one and prints its endpoint and credentials for manual use.

The versitygw binary is found through ``$S3TURBO_VERSITYGW``, the repository's
``.tools/bin`` (installed by ``make tools``), or ``PATH``. :class:`MemS3Server`
runs gofakes3 in memory, for names a file backend cannot hold.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Optional, TypeVar

from .client import Client

DEFAULT_KEY = "s3turbo-test"
DEFAULT_SECRET = "s3turbo-test-secret"


def _find_tool(name: str, env: str, how: str) -> str:
    """Locate a server binary: $env, the repository's .tools/bin, or PATH."""
    if os.environ.get(env):
        return os.environ[env]
    here = Path(__file__).resolve()
    for parent in here.parents:
        cand = parent / ".tools" / "bin" / name
        if cand.exists():
            return str(cand)
    found = shutil.which(name)
    if found:
        return found
    raise FileNotFoundError(f"{name} not found: run `make tools` ({how}), put it on PATH, or set {env}")


def find_versitygw() -> str:
    """Locate the versitygw binary or raise FileNotFoundError saying how to get it."""
    return _find_tool("versitygw", "S3TURBO_VERSITYGW", "installs it into .tools/bin with `go install`")


def find_gofakes3() -> str:
    """Locate the gofakes3 binary or raise FileNotFoundError saying how to get it."""
    return _find_tool("gofakes3", "S3TURBO_GOFAKES3", "installs it into .tools/bin with `go install`")


def free_port() -> int:
    """Return a currently free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_S = TypeVar("_S", bound="_ServerProcess")


class _ServerProcess:
    """A server process on a free loopback port, waited for until it
    answers and stopped (killed if need be) when done, even on failure."""

    name = "server"

    def __init__(self, key: str, secret: str, port: Optional[int]) -> None:
        self.key, self.secret = key, secret
        self.port = port or free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self._proc: Optional[subprocess.Popen[bytes]] = None

    def _command(self) -> list[str]:
        raise NotImplementedError

    def start(self: _S, timeout: float = 30.0) -> _S:
        """Start the server and wait until it answers."""
        self._proc = subprocess.Popen(self._command(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                raise RuntimeError(f"{self.name} exited with {self._proc.returncode}: {err.strip()}")
            try:
                urllib.request.urlopen(self.endpoint_url + "/", timeout=1).close()
                return self
            except urllib.error.HTTPError:
                return self  # it answered (403 without credentials)
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"{self.name} did not answer on {self.endpoint_url} within {timeout}s")

    def stop(self) -> None:
        """Stop the server."""
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            if self._proc.stderr:
                self._proc.stderr.close()
            self._proc = None

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :class:`s3turbo.Client`."""
        return dict(endpoint_url=self.endpoint_url, key=self.key, secret=self.secret, region="us-east-1")

    def client(self, **kw: Any) -> Client:
        """An s3turbo Client for this server."""
        return Client(**{**self.client_kwargs(), **kw})

    def boto3_client(self, **kw: Any) -> Any:
        """A boto3 S3 client for this server (needs boto3 installed)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=self.endpoint_url, aws_access_key_id=self.key,
            aws_secret_access_key=self.secret, region_name="us-east-1",
            config=Config(max_pool_connections=kw.pop("max_pool_connections", 64), **kw),
        )


class LocalS3Server(_ServerProcess):
    """versitygw on 127.0.0.1 with a posix backend in a temp directory."""

    name = "versitygw"

    def __init__(
        self,
        root: Optional[str] = None,
        port: Optional[int] = None,
        key: str = DEFAULT_KEY,
        secret: str = DEFAULT_SECRET,
        binary: Optional[str] = None,
    ) -> None:
        super().__init__(key, secret, port)
        self._own_root = root is None
        self.root = root or tempfile.mkdtemp(prefix="s3turbo-server-")
        self.binary = binary or find_versitygw()

    def _command(self) -> list[str]:
        return [
            self.binary, "--access", self.key, "--secret", self.secret,
            "--port", f"127.0.0.1:{self.port}", "--keep-alive", "--quiet", "posix", self.root,
        ]

    def stop(self) -> None:
        """Stop the server and delete its data directory (if we created it)."""
        super().stop()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)


class MemS3Server(_ServerProcess):
    """gofakes3 (MIT, Go) with its in-memory backend on 127.0.0.1.

    versitygw's posix backend stores objects as files, so it cannot hold an
    object ``a`` beside keys under ``a/`` (a file and a directory of one
    name), which S3 allows; tests of such names run here. It accepts any
    credentials. The binary comes from ``$S3TURBO_GOFAKES3``, the
    repository's ``.tools/bin`` (``make tools``) or ``PATH``.
    """

    name = "gofakes3"

    def __init__(self, port: Optional[int] = None, key: str = DEFAULT_KEY, secret: str = DEFAULT_SECRET,
                 binary: Optional[str] = None) -> None:
        super().__init__(key, secret, port)
        self.binary = binary or find_gofakes3()

    def _command(self) -> list[str]:
        return [self.binary, "-backend", "memory", "-host", f"127.0.0.1:{self.port}", "-quiet"]


def main() -> None:
    """Run a server in the foreground until Ctrl-C (``make server``)."""
    with LocalS3Server() as srv:
        print(f"S3 endpoint:  {srv.endpoint_url}")
        print(f"access key:   {srv.key}")
        print(f"secret key:   {srv.secret}")
        print(f"data dir:     {srv.root}")
        print("region:       us-east-1  (path-style addressing)")
        print()
        print(f"  export AWS_ENDPOINT_URL={srv.endpoint_url} AWS_ACCESS_KEY_ID={srv.key} "
              f"AWS_SECRET_ACCESS_KEY={srv.secret} AWS_REGION=us-east-1")
        print("Ctrl-C stops it and deletes the data.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopping", file=sys.stderr)


if __name__ == "__main__":
    main()
