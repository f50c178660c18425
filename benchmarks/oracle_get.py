"""Drive benchmarks/getoracle (the practical limit for GETs) from Python.

:func:`build` compiles the Go program into the repository's ``.tools/bin``
(``$S3TURBO_GETORACLE`` names a prebuilt binary instead; go's build cache
makes an unchanged tree cheap). :class:`GetOracle` starts it in ``-stdin``
mode with its plan (objects with their sizes, or byte ranges) written to a
temp file, waits for its ready line, and then :meth:`GetOracle.run` does one
run per call, so a pytest-benchmark round times the requests, not process
start-up or planning::

    with GetOracle(endpoint, key, secret, "bench", objects=[("a", 16384)]) as o:
        res = o.run()  # {"seconds": ..., "bytes": ..., "requests": ..., ...}
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any, Optional, Sequence

REPO = Path(__file__).resolve().parent.parent
_lock = threading.Lock()
_built: Optional[str] = None


def build() -> str:
    """Path of the getoracle binary, built on first use in this process."""
    global _built
    with _lock:
        if os.environ.get("S3TURBO_GETORACLE"):
            return os.environ["S3TURBO_GETORACLE"]
        if _built is None:
            out = REPO / ".tools" / "bin" / "getoracle"
            out.parent.mkdir(parents=True, exist_ok=True)
            env = {**os.environ, "GOFLAGS": os.environ.get("GOFLAGS", "-buildvcs=false")}
            subprocess.run(["go", "build", "-o", str(out), "./benchmarks/getoracle"], cwd=REPO, env=env, check=True)
            _built = str(out)
        return _built


class GetOracle:
    """A running getoracle with a fixed plan; :meth:`run` does one timed run.

    Give exactly one of ``objects`` (``(key, size)`` pairs: whole objects,
    split into ``part``-byte ranges above ``part``) or ``ranges``
    (``(key, start, length)`` triples). Keys are relative to ``bucket``.
    """

    def __init__(self, endpoint: str, key: Optional[str], secret: Optional[str], bucket: str, *,
                 objects: Optional[Sequence[tuple[str, int]]] = None,
                 ranges: Optional[Sequence[tuple[str, int, int]]] = None,
                 part: int = 8 << 20, concurrency: int = 64, region: str = "us-east-1") -> None:
        if (objects is None) == (ranges is None):
            raise ValueError("give exactly one of objects, ranges")
        for k in [o[0] for o in objects or ranges or []]:
            if "\n" in k or "\r" in k:
                raise ValueError(f"key with a line break: {k!r}")
        self.endpoint, self.bucket, self.region = endpoint, bucket, region
        self.key, self.secret = key, secret
        self.objects, self.ranges = objects, ranges
        self.part, self.concurrency = part, concurrency
        self.ready: dict[str, Any] = {}
        self._proc: Optional[subprocess.Popen[str]] = None
        self._spec: Optional[str] = None

    def __enter__(self) -> "GetOracle":
        fd, self._spec = tempfile.mkstemp(prefix="getoracle-", suffix=".tsv")
        with os.fdopen(fd, "w") as f:
            if self.objects is not None:
                f.writelines(f"{size}\t{k}\n" for k, size in self.objects)
                mode = "-objects"
            else:
                f.writelines(f"{start}\t{length}\t{k}\n" for k, start, length in self.ranges or [])
                mode = "-ranges"
        cmd = [build(), "-endpoint", self.endpoint, "-bucket", self.bucket, "-region", self.region,
               mode, self._spec, "-part", str(self.part), "-concurrency", str(self.concurrency), "-stdin"]
        env = dict(os.environ)
        if self.key is None:
            cmd.append("-anon")
        else:
            env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = self.key, self.secret or ""
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        try:
            self.ready = self._read()
            if not self.ready.get("ready"):
                raise RuntimeError(f"getoracle: unexpected first line {self.ready}")
        except BaseException:
            self.__exit__()
            raise
        return self

    def _read(self) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            code = self._proc.wait()
            raise RuntimeError(f"getoracle exited with {code} (its error is on stderr above)")
        return json.loads(line)  # type: ignore[no-any-return]

    def run(self) -> dict[str, Any]:
        """One run of the whole plan; the oracle's own measurement."""
        assert self._proc is not None and self._proc.stdin is not None, "use GetOracle as a context manager"
        self._proc.stdin.write("\n")
        self._proc.stdin.flush()
        return self._read()

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            try:
                if self._proc.stdin:
                    self._proc.stdin.close()
                self._proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
            if self._proc.stdout:
                self._proc.stdout.close()
            self._proc = None
        if self._spec:
            os.unlink(self._spec)
            self._spec = None
