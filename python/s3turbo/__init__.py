"""s3turbo: fast S3 from Python, powered by a Go engine.

>>> import s3turbo
>>> c = s3turbo.Client(endpoint_url="http://127.0.0.1:9000")
>>> c.ls("bucket/prefix")                         # doctest: +SKIP
>>> c.get_objects(["bucket/a", "bucket/b"])       # doctest: +SKIP
"""

from ._ffi import CancelledError, CorruptDataError, InternalError, ObjectChangedError
from typing import Any

from .client import Client, DuResult, ListResult, Writer
from .columns import Names

__version__ = "0.1.0"

__all__ = [
    "CancelledError",
    "Client",
    "CorruptDataError",
    "DuResult",
    "ListResult",
    "Names",
    "InternalError",
    "ObjectChangedError",
    "S3FileSystem",
    "Writer",
    "__version__",
    "register_s3",
]


def __getattr__(name: str) -> Any:
    # The fsspec layer is imported on first use so that `import s3turbo`
    # does not need fsspec.
    if name in ("S3FileSystem", "S3File", "register_s3"):
        from . import fs

        return getattr(fs, name)
    raise AttributeError(f"module 's3turbo' has no attribute {name!r}")
