"""Profiling the Go engine from Python (a developer tool).

The engine runs inside this process as a Go shared library, so Python
profilers (cProfile, py-spy) see its calls as one opaque wait. Go's own CPU
profiler sees inside::

    from s3turbo.profiling import go_cpu_profile

    with go_cpu_profile("/tmp/get.pprof"):
        client.get_objects(paths)

    # then: go tool pprof -top python/s3turbo/libs3turbo.so /tmp/get.pprof

Only one profile can run at a time in a process.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator, Union

from . import _ffi


@contextmanager
def go_cpu_profile(path: Union[str, "os.PathLike[str]"]) -> Iterator[None]:
    """Record a Go CPU profile (pprof format) of the engine into ``path``
    while the block runs. Raises ValueError if a profile is already running
    and OSError if ``path`` cannot be written."""
    raw = os.fsencode(path)
    if not raw:
        raise ValueError("go_cpu_profile needs a file path")
    lib = _ffi.lib()
    _ffi.call(lib.s3t_cpuprofile, _ffi.ffi.from_buffer(raw), len(raw))
    try:
        yield
    finally:
        _ffi.call(lib.s3t_cpuprofile, _ffi.ffi.NULL, 0)
