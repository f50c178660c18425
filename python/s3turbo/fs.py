"""An fsspec filesystem for S3 whose every request is made by the Go engine.

``s3turbo.S3FileSystem`` is a drop-in for ``s3fs.S3FileSystem``: the same
constructor options, the same entry dictionaries, the same exceptions. It is
registered for the ``s3turbo://`` protocol (fsspec entry point), and
:func:`register_s3` makes it the handler of ``s3://`` and ``s3a://`` too.

Where fsspec hands over many paths (``cat``, ``get``, ``put``, ``copy``,
``rm``, ``pipe``, ``cat_ranges``), the whole batch goes to the engine in one
call and runs concurrently there. Python only computes fsspec's path mapping
(so results match every other fsspec filesystem) and the dircache.
"""

from __future__ import annotations

import ctypes
import os
import threading
import warnings
import weakref
from typing import Any, Iterator, Optional, Union

from fsspec.callbacks import DEFAULT_CALLBACK
from fsspec.spec import AbstractBufferedFile, AbstractFileSystem
from fsspec.utils import stringify_path

from . import _ffi
from .client import Client, _mtime

__all__ = ["S3FileSystem", "S3File", "register_s3"]

_SCHEMES = ("s3turbo://", "s3://", "s3a://")

# s3fs constructor options accepted for compatibility that have no effect here.
_IGNORED_S3FS_OPTIONS = frozenset({
    "asynchronous", "loop", "session", "cache_regions", "fixed_upload_size", "max_concurrency_s3fs",
    "default_fill_cache", "use_ssl", "skip_instance_cache", "version_aware",
})

# Weak: a client lives as long as a filesystem (or file) uses it. Kept for
# good, every distinct set of options (rotated session tokens, a timeout per
# call) left an engine client and its connections behind for the process's
# life, even with skip_instance_cache=True.
_CLIENTS: "weakref.WeakValueDictionary[tuple[tuple[str, str], ...], Client]" = weakref.WeakValueDictionary()
_CLIENTS_LOCK = threading.Lock()


def _shared_client(args: dict[str, Any]) -> Client:
    """One engine client per distinct set of client arguments in use.

    fsspec creates one filesystem instance per thread (and more when options
    differ); they all share the Go client (and its connection pool) here,
    and it is closed once none of them is left."""
    key = tuple(sorted((k, repr(v)) for k, v in args.items()))
    with _CLIENTS_LOCK:
        c = _CLIENTS.get(key)
        if c is None:
            c = _CLIENTS[key] = Client(**args)
        return c


def _no_versions(kwargs: dict[str, Any], path: str) -> None:
    """Refuse a version_id: reading the latest bytes instead of the version
    asked for (what ignoring it did) is wrong data with no error."""
    if kwargs.get("version_id") is not None:
        raise ValueError(f"{path}: version_id is not supported by s3turbo (object versions are not read)")


def _encoded(value: Any) -> Any:
    """pipe's value: a str is stored UTF-8 encoded, as s3fs (botocore) does."""
    return value.encode("utf-8") if isinstance(value, str) else value


def register_s3(clobber: bool = True) -> None:
    """Make s3turbo the fsspec handler for ``s3://`` and ``s3a://`` URLs
    (pandas, pyarrow, dask, xarray...). Opt-in: importing s3turbo never does it."""
    import fsspec

    for proto in ("s3", "s3a"):
        fsspec.register_implementation(proto, S3FileSystem, clobber=clobber)


def _new_bytes(n: int) -> bytes:
    """An uninitialized bytes object of length n (see _fill_bytes)."""
    return _PyBytes_FromStringAndSize(None, n)


_PyBytes_FromStringAndSize = ctypes.pythonapi.PyBytes_FromStringAndSize
_PyBytes_FromStringAndSize.restype = ctypes.py_object
_PyBytes_FromStringAndSize.argtypes = (ctypes.c_void_p, ctypes.c_ssize_t)


def _dir_entry(name: str, storage_class: str = "DIRECTORY") -> dict[str, Any]:
    return {"Key": name, "Size": 0, "name": name, "StorageClass": storage_class, "type": "directory", "size": 0}


def _file_entry(name: str, size: int, etag: str, mtime: Any) -> dict[str, Any]:
    return {"Key": name, "Size": size, "name": name, "StorageClass": "STANDARD", "type": "file",
            "size": size, "ETag": etag, "LastModified": mtime}


# Options fsspec and s3fs pass along with a write that are not object headers
# (S3FileSystem._attrs raises for any other lowercase name).
_WRITE_CALL_OPTIONS = frozenset({
    "mode", "callback", "recursive", "maxdepth", "chunksize", "batch_size", "on_error", "autocommit",
    "block_size", "cache_type", "cache_options", "size", "fill_cache", "requester_pays", "details",
})


class S3FileSystem(AbstractFileSystem):
    """fsspec filesystem over S3 (or any S3-compatible server), s3fs-compatible.

    Args (as in s3fs):
        anon: unsigned requests (public buckets).
        key, secret, token: explicit credentials (``username``/``password``
            are accepted as aliases of key/secret).
        endpoint_url: S3 endpoint, e.g. ``http://127.0.0.1:9000``.
        client_kwargs: ``endpoint_url``, ``region_name``, ``verify``,
            ``aws_access_key_id``, ``aws_secret_access_key``, ``aws_session_token``.
        config_kwargs: botocore-style ``connect_timeout``, ``read_timeout``,
            ``max_pool_connections``, ``retries={"max_attempts", "mode"}``,
            ``s3={"addressing_style": "path"|"virtual"}``.
        default_block_size: bytes per read-ahead block and write buffer (50 MiB).
        default_cache_type: fsspec cache for ``open(..., "rb")`` ("readahead").
        use_listings_cache, listings_expiry_time, max_paths: the dircache.
        requester_pays: accept requester-pays charges.
        profile: a named profile from the AWS config files.
        max_concurrency: requests in flight per operation (default 64).
        part_size: bytes per ranged GET / multipart part (default 8 MiB).
        parallel_listing: split large ``find``/``du`` listings into key ranges
            listed concurrently (default). That hides request latency (real
            S3: tens of ms a page); against a CPU-bound server on the same
            machine, where there is no latency to hide, ``False`` (one
            sequential listing, fewer requests) can be faster.

    Unset options come from the standard AWS chain (environment, profile,
    config files) and from fsspec's config (``FSSPEC_S3_<OPTION>``, as s3fs,
    or ``FSSPEC_S3TURBO_<OPTION>``). ``protocol[0]`` is ``"s3"`` and paths are
    unstripped to ``s3://`` URLs, as s3fs's: kerchunk references and other
    tools that key filesystems by protocol find it for ``s3://`` URLs.
    Instances pickle by their arguments; the engine client behind them is
    shared per process.
    """

    protocol = ("s3", "s3a", "s3turbo")
    root_marker = ""
    default_block_size = 50 * 2**20
    default_cache_type = "readahead"
    _extra_tokenize_attributes = ("default_block_size",)

    def __init__(
        self,
        anon: bool = False,
        key: Optional[str] = None,
        secret: Optional[str] = None,
        token: Optional[str] = None,
        endpoint_url: Optional[str] = None,
        client_kwargs: Optional[dict[str, Any]] = None,
        config_kwargs: Optional[dict[str, Any]] = None,
        default_block_size: Optional[int] = None,
        default_cache_type: str = "readahead",
        use_listings_cache: bool = True,
        listings_expiry_time: Optional[float] = None,
        max_paths: Optional[int] = None,
        requester_pays: bool = False,
        profile: Optional[str] = None,
        max_concurrency: int = 64,
        part_size: int = 8 * 2**20,
        parallel_listing: bool = True,
        username: Optional[str] = None,
        password: Optional[str] = None,
        s3_additional_kwargs: Optional[dict[str, Any]] = None,
        **kwargs: Any,
    ) -> None:
        if self._cached:
            return
        extra = dict(s3_additional_kwargs or {})
        if extra.pop("RequestPayer", None) == "requester":
            requester_pays = True  # s3fs's other way to say it (a request option, not an object header)
        unknown = set(kwargs) - _IGNORED_S3FS_OPTIONS
        if unknown:
            raise TypeError(f"S3FileSystem got unexpected option(s): {', '.join(sorted(unknown))}")
        # asynchronous=True is accepted and means nothing: the filesystem is
        # synchronous (async_impl False), and callers that want coroutines
        # wrap it, as zarr's FsspecStore.from_url does after passing the flag.
        if kwargs.get("version_aware"):
            raise ValueError("version_aware=True is not supported by s3turbo.S3FileSystem")
        super().__init__(
            anon=anon, key=key, secret=secret, token=token, endpoint_url=endpoint_url,
            client_kwargs=client_kwargs, config_kwargs=config_kwargs, default_block_size=default_block_size,
            default_cache_type=default_cache_type, use_listings_cache=use_listings_cache,
            listings_expiry_time=listings_expiry_time, max_paths=max_paths, requester_pays=requester_pays,
            profile=profile, max_concurrency=max_concurrency, part_size=part_size,
            parallel_listing=parallel_listing, username=username, password=password,
            s3_additional_kwargs=s3_additional_kwargs, **kwargs,
        )
        self.parallel_listing = parallel_listing
        # Headers for every object written (ContentType, Metadata,
        # ServerSideEncryption...: see Client.put_objects' attrs); the
        # engine refuses a name it does not know at the first write.
        self.s3_additional_kwargs = extra
        self.default_block_size = default_block_size or type(self).default_block_size
        self.default_cache_type = default_cache_type
        self.client = _shared_client(self._client_args(
            anon, key if key is not None else username, secret if secret is not None else password, token,
            endpoint_url, dict(client_kwargs or {}), dict(config_kwargs or {}), requester_pays, profile,
            max_concurrency, part_size))

    @staticmethod
    def _client_args(anon: bool, key: Optional[str], secret: Optional[str], token: Optional[str],
                     endpoint_url: Optional[str], ck: dict[str, Any], cfg: dict[str, Any], requester_pays: bool,
                     profile: Optional[str], max_concurrency: int, part_size: int) -> dict[str, Any]:
        args: dict[str, Any] = dict(
            anon=bool(anon), key=key, secret=secret, token=token, profile=profile,
            endpoint_url=endpoint_url or ck.pop("endpoint_url", None),
            region=ck.pop("region_name", None), requester_pays=bool(requester_pays),
            max_concurrency=max_concurrency, part_size=part_size,
        )
        for ours, theirs in (("key", "aws_access_key_id"), ("secret", "aws_secret_access_key"),
                             ("token", "aws_session_token")):
            v = ck.pop(theirs, None)
            if args[ours] is None:
                args[ours] = v
        if "verify" in ck:
            v = ck.pop("verify")  # False, True/None, or a CA bundle's path (as botocore)
            args["verify"] = v if isinstance(v, (str, os.PathLike)) else v is not False
        ck.pop("use_ssl", None)
        if ck:
            raise TypeError(f"unsupported client_kwargs: {', '.join(sorted(ck))}")
        for name in ("connect_timeout", "read_timeout"):
            if name in cfg:
                args[name] = float(cfg.pop(name))
        if "max_pool_connections" in cfg:
            args["max_concurrency"] = int(cfg.pop("max_pool_connections"))
        retries = cfg.pop("retries", None) or {}
        attempts = retries.get("total_max_attempts")
        if attempts is None and retries.get("max_attempts") is not None:
            attempts = retries["max_attempts"] + 1
        if attempts is not None:
            args["retries"] = int(attempts)
        if retries.get("mode") in ("standard", "adaptive"):
            args["retry_mode"] = retries["mode"]
        style = (cfg.pop("s3", None) or {}).get("addressing_style")
        if style in ("path", "virtual"):
            args["path_style"] = style == "path"
        sig = cfg.pop("signature_version", None)
        if sig is not None and str(sig).lower() in ("unsigned", "botocore.unsigned"):
            args["anon"] = True
        for ignored in ("region_name", "user_agent", "user_agent_extra", "tcp_keepalive",
                        "request_checksum_calculation", "response_checksum_validation"):
            cfg.pop(ignored, None)
        if cfg:
            warnings.warn(f"s3turbo ignores config_kwargs {sorted(cfg)}", stacklevel=4)
        if args["anon"]:
            args["key"] = args["secret"] = args["token"] = None
        return args

    def _attrs(self, kwargs: dict[str, Any], path: Any = None) -> Optional[dict[str, Any]]:
        """Headers for an object written with these call options: the
        filesystem's s3_additional_kwargs and the call's boto3-style
        (CamelCase) options, as s3fs passes both to PutObject (the engine
        refuses an unknown CamelCase name), and s3fs's ``acl=``. Any other
        option raises ValueError naming it (s3fs's botocore refuses it too):
        ``content_type=`` or a typo used to be dropped, and the object stored
        without the header meant."""
        attrs = dict(self.s3_additional_kwargs)
        for k, v in kwargs.items():
            if k[:1].isupper():
                attrs[k] = v
            elif k == "acl":
                if v is not None:
                    attrs["ACL"] = v
            elif k not in _WRITE_CALL_OPTIONS:
                where = f" writing {path}" if path is not None else ""
                raise ValueError(f"unknown option {k!r}{where}: object headers take boto3's names "
                                 "(ContentType=, Metadata=, ACL=, ...); see S3FileSystem's documentation")
        return attrs or None

    # -- paths ------------------------------------------------------------------

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = stringify_path(path)
        for scheme in _SCHEMES:
            if path.startswith(scheme):
                path = path[len(scheme):]
                break
        return path.rstrip("/")

    def unstrip_protocol(self, name: str) -> str:
        return "s3://" + self._strip_protocol(name)

    @classmethod
    def _get_kwargs_from_urls(cls, urlpath: str) -> dict[str, Any]:
        return {}

    def split_path(self, path: str) -> tuple[str, str, None]:
        """``bucket/key`` → (bucket, key, None); the version is always None."""
        bucket, _, key = self._strip_protocol(path).partition("/")
        return bucket, key, None

    # -- listing ------------------------------------------------------------------

    def _lsbuckets(self, refresh: bool) -> list[dict[str, Any]]:
        if not refresh and "" in self.dircache:
            return self.dircache[""]
        out = []
        for b in self.client.list_buckets():
            d = _dir_entry(b["name"], "BUCKET")
            d["CreationDate"] = b["CreationDate"]
            out.append(d)
        self.dircache[""] = out
        return out

    def _lsdir(self, path: str, refresh: bool = False) -> list[dict[str, Any]]:
        """One level below directory ``path`` ([] if it holds nothing)."""
        if not refresh and path in self.dircache:
            return self.dircache[path]
        bucket, key, _ = self.split_path(path)
        out: list[dict[str, Any]] = []
        prefix = bucket + "/" + (key + "/" if key else "")
        try:
            entries = self.client.ls(prefix)
        except FileNotFoundError:
            if key:
                return []
            raise FileNotFoundError(path) from None
        for e in entries:
            name = e["name"]
            if not name.startswith(prefix) and name + "/" != prefix:
                continue  # the path itself, returned by ls when it names an object
            if e["type"] == "directory":
                out.append(_dir_entry(name))  # Client.ls names folders without their slash
            elif name.endswith("/"):
                continue  # a directory marker: it is the directory itself
            else:
                out.append(_file_entry(name, e["size"], e["ETag"], e["LastModified"]))
        if out or not key:
            self.dircache[path] = out
        return out

    def ls(self, path: str, detail: bool = False, refresh: bool = False, **kwargs: Any) -> Any:
        """List one level below ``path``: buckets for ``""``, else the keys and
        prefixes of a directory, or ``[info]`` when ``path`` is a file. Names
        (sorted) by default, as s3fs returns them; ``detail=True`` gives the
        entry dictionaries."""
        path = self._strip_protocol(path)
        if path == "":
            entries = self._lsbuckets(refresh)
        else:
            entries = self._lsdir(path, refresh)
            if not entries:
                info = self.info(path, refresh=refresh)
                entries = [info] if info["type"] == "file" else []
        if detail:
            return list(entries)
        return sorted(e["name"] for e in entries)

    def info(self, path: str, refresh: bool = False, **kwargs: Any) -> dict[str, Any]:
        """Details of a file (HEAD) or directory (bucket or prefix with keys).

        Uses the dircache when a listing of the parent is cached."""
        _no_versions(kwargs, path)
        path = self._strip_protocol(path)
        if path == "":
            return {"name": "", "size": 0, "type": "directory"}
        bucket, key, _ = self.split_path(path)
        if not refresh and key:
            # The parent's listing decides; in it an object wins over a
            # folder of its name, as a HEAD does. A listing of the path
            # itself alone does not: an object "a" may sit beside "a/...",
            # and taking it for a directory made get and cp copy nothing.
            siblings = self.dircache.get(self._parent(path))
            if siblings is not None:
                hits = [e for e in siblings if e["name"] == path]
                for e in hits:
                    if e["type"] == "file":
                        return e
                if hits:
                    return hits[0]
                if not self.dircache.get(path):
                    # the complete listing of the parent does not hold it
                    raise FileNotFoundError(path)
                return _dir_entry(path)  # listed since the parent was
        res = self.client.stat([path], on_error="return")[0]
        if isinstance(res, BaseException):
            if isinstance(res, FileNotFoundError):
                raise FileNotFoundError(path) from res
            raise res
        if res["type"] == "directory":
            return _dir_entry(path, "BUCKET" if not key else "DIRECTORY")
        out = _file_entry(path, res["size"], res["ETag"], res["LastModified"])
        out["ContentType"] = res.get("ContentType")
        if res.get("VersionId"):
            out["VersionId"] = res["VersionId"]
        return out

    def exists(self, path: str, **kwargs: Any) -> bool:
        """True if ``path`` is a file, a directory or a bucket. Unlike a bare
        ``except``, only FileNotFoundError means False: a denied request raises."""
        try:
            self.info(path, **kwargs)
            return True
        except FileNotFoundError:
            return False

    def isdir(self, path: str) -> bool:
        try:
            return self.info(path)["type"] == "directory"
        except FileNotFoundError:
            return False

    def isfile(self, path: str) -> bool:
        try:
            return self.info(path)["type"] == "file"
        except FileNotFoundError:
            return False

    def find(self, path: str, maxdepth: Optional[int] = None, withdirs: bool = False, detail: bool = False,
             prefix: str = "", **kwargs: Any) -> Any:
        """Every file below ``path`` (and directories with ``withdirs``).

        Without ``maxdepth`` this is one flat listing (streamed from the
        engine, split across concurrent requests when it is large) that also
        fills the dircache of every directory below ``path``. ``prefix``
        keeps only names starting with ``path/prefix`` and lists only those.
        With ``maxdepth`` and no prefix it walks with delimiter listings.
        """
        path = self._strip_protocol(path)
        if maxdepth is not None and maxdepth < 1:
            raise ValueError("maxdepth must be at least 1")
        bucket, key, _ = self.split_path(path)
        if not bucket:
            raise ValueError("Cannot traverse all of S3: name a bucket")
        if maxdepth is not None and not prefix:
            return super().find(path, maxdepth=maxdepth, withdirs=withdirs, detail=detail, **kwargs)
        base = bucket + "/" + (key + "/" if key else "")
        if maxdepth is not None:
            return self._find_level(base + prefix, maxdepth, withdirs, detail)
        files: dict[str, dict[str, Any]] = {}
        dirs: dict[str, dict[str, Any]] = {}
        children: dict[str, list[dict[str, Any]]] = {}
        for e in self.client.list(base + prefix, recursive=True, parallel=self.parallel_listing, sorted=True):
            name = e["name"]
            if name.endswith("/"):
                entry = None  # directory marker: only its directories matter
                name = name[:-1]
                if not name.startswith(base) or not name[len(base):]:
                    continue
                rel_parts = name[len(base):].split("/")
            else:
                entry = _file_entry(name, e["size"], e["ETag"], e["LastModified"])
                rel_parts = name[len(base):].split("/")
            if maxdepth is not None and len(rel_parts) > maxdepth:
                if withdirs:  # still record the directories within depth
                    rel_parts = rel_parts[:maxdepth]
                    entry = None
                else:
                    continue
            # directories between base and the key
            parent = path
            for i, part in enumerate(rel_parts[:-1] if entry is not None else rel_parts):
                d = parent + "/" + part
                if d not in dirs:
                    dirs[d] = _dir_entry(d)
                    children.setdefault(parent, []).append(dirs[d])
                parent = d
            if entry is not None:
                files[name] = entry
                children.setdefault(parent, []).append(entry)
        if not prefix and maxdepth is None:
            for d, entries in children.items():
                self.dircache[d] = entries
            for d in dirs:
                self.dircache.setdefault(d, [])
        batch = getattr(self._recording, "batch", None)
        if batch is not None:
            # S3 may hold an object "a" beside keys under "a/": such a name
            # is a file to transfer and a folder to delete (see rm).
            batch.kinds.update((d, "directory") for d in dirs)
            batch.kinds.update((n, "file") for n in files)
            batch.dirs.update(dirs)
            if files or dirs:
                # path itself may be an object too: left to _kinds (one HEAD).
                batch.dirs.add(path)
        out: dict[str, dict[str, Any]] = dict(files)
        if withdirs:
            if maxdepth is not None:
                dirs = {d: v for d, v in dirs.items() if d[len(path) + 1:].count("/") < maxdepth}
            out.update(dirs)
            if key and (files or dirs) and not prefix:
                out[path] = _dir_entry(path)
        if not out and key and not prefix:
            try:
                info = self.info(path)
            except FileNotFoundError:
                info = None
            if info is not None and (info["type"] == "file" or withdirs):
                out[path] = info
            if info is not None and batch is not None:
                # A folder holding only its marker ("dir/", as the S3
                # console's "Create folder" makes): rm must delete the
                # marker, not a key "dir" that does not exist.
                batch.kinds[path] = info["type"]
                if info["type"] == "directory":
                    batch.dirs.add(path)
        names = sorted(out)
        if detail:
            return {n: out[n] for n in names}
        return names

    def _find_level(self, start: str, maxdepth: int, withdirs: bool, detail: bool) -> Any:
        """find of the names starting with ``start`` (``bucket/dir/pre``) to
        ``maxdepth``: one delimiter listing of that level, then each folder
        in it walked to the depth left. (A listing of everything below
        cost a LIST per 1 000 keys in the folders: glob("b/logs/2024-*")
        read every log of 2024 to find twelve folders.)"""
        files: dict[str, dict[str, Any]] = {}
        dirs: dict[str, dict[str, Any]] = {}
        for e in self.client.list(start, recursive=False):
            if e["type"] == "directory":
                dirs[e["name"]] = _dir_entry(e["name"])
                if maxdepth > 1:
                    below = super().find(e["name"], maxdepth=maxdepth - 1, withdirs=True, detail=True)
                    for n, v in below.items():
                        if v.get("type") == "directory":
                            dirs[n] = v
                        elif v.get("type") == "file":
                            files[n] = v
                        # (fsspec's find gives {folder: {}} for a folder
                        # beside an object of its name with nothing below)
            else:
                files[e["name"]] = _file_entry(e["name"], e["size"], e["ETag"], e["LastModified"])
        batch = getattr(self._recording, "batch", None)
        if batch is not None:
            # As find records a recursive listing: rm must delete a folder
            # (its "dir/" marker included), not a key of its name.
            batch.kinds.update((d, "directory") for d in dirs)
            batch.kinds.update((n, "file") for n in files)
            batch.dirs.update(dirs)
        out = dict(files)
        if withdirs:
            out.update(dirs)
        names = sorted(out)
        return {n: out[n] for n in names} if detail else names

    def glob(self, path: str, maxdepth: Optional[int] = None, **kwargs: Any) -> Any:
        """fsspec glob, listing only the literal prefix before the first wildcard."""
        stripped = self._strip_protocol(path)
        magic = min((i for i in (stripped.find(c) for c in "*?[") if i >= 0), default=-1)
        if magic > 0 and "prefix" not in kwargs:
            root_end = stripped.rfind("/", 0, magic)
            literal = stripped[root_end + 1:magic]
            if literal and root_end > 0:
                kwargs["prefix"] = literal
        return super().glob(path, maxdepth=maxdepth, **kwargs)

    def du(self, path: str, total: bool = True, maxdepth: Optional[int] = None, withdirs: bool = False,
           **kwargs: Any) -> Any:
        """Space used below ``path``; sizes come from listings, never one HEAD per file.

        The common case (``total=True``) is summed inside the engine."""
        path = self._strip_protocol(path)
        bucket, key, _ = self.split_path(path)
        if total and maxdepth is None and bucket:
            res = self.client.du(bucket + "/" + (key + "/" if key else ""), parallel=self.parallel_listing)
            if res.count:
                return res.size
        return super().du(path, total=total, maxdepth=maxdepth, withdirs=withdirs, **kwargs)

    def invalidate_cache(self, path: Optional[str] = None) -> None:
        """Forget cached listings of ``path`` and its parents (all with None)."""
        if path is None:
            self.dircache.clear()
        else:
            path = self._strip_protocol(path)
            self.dircache.pop(path, None)
            while path:
                path = self._parent(path)
                self.dircache.pop(path, None)
        super().invalidate_cache(path)

    def _invalidate_many(self, paths: Any) -> None:
        seen: set[str] = set()
        for p in paths:
            parent = self._parent(p)
            if p not in seen:
                self.dircache.pop(self._strip_protocol(p), None)
            if parent not in seen:
                seen.add(parent)
                self.invalidate_cache(parent)

    # -- reading ------------------------------------------------------------------

    def cat_file(self, path: str, start: Optional[int] = None, end: Optional[int] = None, **kwargs: Any) -> bytes:
        """Bytes of one object, or of ``[start, end)`` (negative = from the end)."""
        _no_versions(kwargs, path)
        path = self._strip_protocol(path)
        res = self.client.get_ranges([path], [start], [end], on_error="return")[0]
        if isinstance(res, BaseException):
            raise self._named(res, path)
        return bytes(res)

    def cat(self, path: Any, recursive: bool = False, on_error: str = "raise", **kwargs: Any) -> Any:
        """Contents of one or many paths; many paths are fetched in one
        concurrent engine call (``on_error``: raise, omit or return)."""
        paths = self.expand_path(path, recursive=recursive, **kwargs)
        single = not (len(paths) > 1 or isinstance(path, list) or paths[0] != self._strip_protocol(path))
        if single:
            return self.cat_file(paths[0])
        if recursive:
            paths = [p for p in paths if not self._known_dir(p) or self._known_file(p)]
        res = self.client.get_ranges(paths, [None] * len(paths), [None] * len(paths),
                                     on_error="return" if on_error in ("omit", "return") else "raise")
        out: dict[str, Any] = {}
        for p, r in zip(paths, res):
            if isinstance(r, BaseException):
                if on_error == "omit":
                    continue
                out[p] = self._named(r, p)
            else:
                out[p] = bytes(r)
        return out

    def cat_ranges(self, paths: list[str], starts: Any, ends: Any, max_gap: Optional[int] = None,
                   on_error: str = "return", **kwargs: Any) -> list[Any]:
        """Many byte ranges (of one or many objects) in one concurrent call."""
        if max_gap is not None:
            raise NotImplementedError("max_gap")
        if not isinstance(paths, list):
            raise TypeError("paths must be a list")
        n = len(paths)
        starts = starts if isinstance(starts, list) else [starts] * n
        ends = ends if isinstance(ends, list) else [ends] * n
        if len(starts) != n or len(ends) != n:
            raise ValueError("paths, starts and ends must have the same length")
        stripped = [self._strip_protocol(p) for p in paths]
        res = self.client.get_ranges(stripped, starts, ends, on_error="return")
        out: list[Any] = []
        for p, r in zip(stripped, res):
            if isinstance(r, BaseException):
                r = self._named(r, p)
                if on_error != "return":
                    raise r
                out.append(r)
            else:
                out.append(bytes(r))
        return out

    @staticmethod
    def _named(err: BaseException, path: str) -> BaseException:
        if isinstance(err, FileNotFoundError) and path not in str(err):
            return FileNotFoundError(f"{path}: {err}")
        return err

    def _known_dir(self, path: str) -> bool:
        """Directory according to the dircache (no request)."""
        return path in self.dircache or "directory" in self._cached_types(path)

    def _known_file(self, path: str) -> bool:
        """An object according to the dircache (no request): a name may be
        both, an object "a" beside keys under "a/"."""
        return "file" in self._cached_types(path)

    def _cached_types(self, path: str) -> set[str]:
        """The types the dircache's listing of path's parent gives path."""
        listing = self.dircache.get(self._parent(path)) if self._parent(path) in self.dircache else None
        return {e["type"] for e in listing or [] if e["name"] == path}

    def _kinds(self, paths: list[str], known: Optional[dict[str, str]] = None) -> list[Optional[str]]:
        """"file"/"directory"/None (missing) for many paths: what the
        collecting listings saw, then the dircache, then one concurrent HEAD
        batch for the rest."""
        kinds: list[Optional[str]] = [None] * len(paths)
        unknown: list[int] = []
        for i, p in enumerate(paths):
            if known and p in known:
                kinds[i] = known[p]
                continue
            hit = None
            if self._parent(p) in self.dircache:
                # The parent's listing shows an object of that name (which
                # may also be a folder: it is a file to transfer), else a
                # folder. Without it, a listed folder may still be an
                # object too: asked below.
                types = self._cached_types(p)
                if "file" in types:
                    hit = "file"
                elif "directory" in types or p in self.dircache:
                    hit = "directory"
            if hit is None:
                unknown.append(i)
            kinds[i] = hit
        if unknown:
            res = self.client.stat([paths[i] for i in unknown], on_error="return")
            for i, r in zip(unknown, res):
                if isinstance(r, FileNotFoundError):
                    kinds[i] = None
                elif isinstance(r, BaseException):
                    raise r
                else:
                    kinds[i] = r["type"]
        return kinds

    # -- transfers: fsspec computes the path mapping, the engine moves the bytes ---

    class _Batch:
        def __init__(self) -> None:
            self.pairs: list[tuple[str, str]] = []
            # types seen by listings made while collecting (path → "file"/"directory"),
            # so the transfer needs no HEADs even without a dircache; a name
            # that is both an object and a folder is a "file" there
            self.kinds: dict[str, str] = {}
            # every folder those listings saw (with markers to delete, see rm)
            self.dirs: set[str] = set()

    _recording = threading.local()

    def _record(self, src: str, dst: str) -> bool:
        batch = getattr(self._recording, "batch", None)
        if batch is None:
            return False
        batch.pairs.append((src, dst))
        return True

    def _collect(self, fn: Any, *args: Any, **kwargs: Any) -> "S3FileSystem._Batch":
        """Run fsspec's own bulk method with the per-file method recording
        (src, dst) pairs instead of transferring."""
        batch = self._Batch()
        outer = getattr(self._recording, "batch", None)
        self._recording.batch = batch
        try:
            fn(*args, **kwargs)
        finally:
            self._recording.batch = outer
        return batch

    def get_file(self, rpath: str, lpath: Any, callback: Any = DEFAULT_CALLBACK, outfile: Any = None,
                 **kwargs: Any) -> None:
        """Download one object to a local file (or file-like ``lpath``)."""
        if outfile is None and not hasattr(lpath, "write"):
            if self._record(self._strip_protocol(rpath), os.fspath(lpath)):
                return
            self._download([(self._strip_protocol(rpath), os.fspath(lpath))], None)
            return
        out = outfile if outfile is not None else lpath
        out.write(self.cat_file(rpath))

    def get(self, rpath: Any, lpath: Any, recursive: bool = False, callback: Any = DEFAULT_CALLBACK,
            maxdepth: Optional[int] = None, **kwargs: Any) -> None:
        """Download files (recursively) into local paths, all in one
        concurrent engine call. Nothing is written outside ``lpath``: a key
        such as ``a/../../x`` is rejected instead of escaping the target."""
        if isinstance(lpath, os.PathLike):
            lpath = os.fspath(lpath)  # fsspec's sync get only maps str targets
        if isinstance(lpath, str):
            lpath = os.path.expanduser(lpath)  # as fsspec maps it: "~/x" was refused as outside "<cwd>/~"
        batch = self._collect(super().get, rpath, lpath, recursive=recursive, maxdepth=maxdepth, **kwargs)
        pairs = batch.pairs
        root = None
        if isinstance(lpath, (str, os.PathLike)):
            target = os.path.abspath(os.fspath(lpath))
            inside = all(_within(os.path.abspath(lp), target) and os.path.abspath(lp) != target
                         for _, lp in pairs) and pairs
            root = target if inside or os.path.isdir(target) else os.path.dirname(target)
            for _, lp in pairs:
                if not _within(os.path.normpath(os.path.join(target, lp)), root):
                    raise ValueError(f"refusing to write {lp!r} outside {root!r}")
        callback.set_size(len(pairs))
        self._download(pairs, root, batch.kinds)
        callback.relative_update(len(pairs))

    def _download(self, pairs: list[tuple[str, str]], root: Optional[str],
                  known: Optional[dict[str, str]] = None) -> None:
        if not pairs:
            return
        kinds = self._kinds([r for r, _ in pairs], known)
        files = []
        for (r, lp), kind in zip(pairs, kinds):
            if kind == "directory":
                if root is not None and not _within(os.path.abspath(lp), root):
                    raise ValueError(f"refusing to create {lp!r} outside {root!r}")
                os.makedirs(lp, exist_ok=True)
            elif kind is None:
                raise FileNotFoundError(r)
            else:
                files.append((r, lp))
        if files:
            self.client.download_files([r for r, _ in files], [lp for _, lp in files], root=root)

    def put_file(self, lpath: Any, rpath: str, callback: Any = DEFAULT_CALLBACK, mode: str = "overwrite",
                 **kwargs: Any) -> None:
        """Upload one local file (multipart in parallel parts when large)."""
        lpath = os.fspath(lpath)
        if os.path.isdir(lpath):
            return  # S3 has no directories
        rpath = self._strip_protocol(rpath)
        if mode == "create":
            self.client.upload_files([lpath], [rpath], create_only=True, attrs=self._attrs(kwargs, rpath))
            self.invalidate_cache(rpath)
            return
        if not self._record(lpath, rpath):
            self.client.upload_files([lpath], [rpath], attrs=self._attrs(kwargs, rpath))
            self.invalidate_cache(rpath)

    def put(self, lpath: Any, rpath: Any, recursive: bool = False, callback: Any = DEFAULT_CALLBACK,
            maxdepth: Optional[int] = None, **kwargs: Any) -> None:
        """Upload local files (recursively), all in one concurrent engine call."""
        if kwargs.get("mode", "overwrite") == "create":
            return super().put(lpath, rpath, recursive=recursive, callback=callback, maxdepth=maxdepth, **kwargs)
        pairs = self._collect(super().put, lpath, rpath, recursive=recursive, maxdepth=maxdepth, **kwargs).pairs
        callback.set_size(len(pairs))
        if pairs:
            try:
                self.client.upload_files([lp for lp, _ in pairs], [r for _, r in pairs], attrs=self._attrs(kwargs))
            finally:  # a partial failure still wrote the others
                self._invalidate_many(r for _, r in pairs)
        callback.relative_update(len(pairs))

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        """Server-side copy (multipart copy above 5 GiB)."""
        p1, p2 = self._strip_protocol(path1), self._strip_protocol(path2)
        if self._record(p1, p2):
            return
        self._copy_pairs([(p1, p2)], "raise")

    def copy(self, path1: Any, path2: Any, recursive: bool = False, maxdepth: Optional[int] = None,
             on_error: Optional[str] = None, **kwargs: Any) -> None:
        """Server-side copies, all in one concurrent engine call."""
        if on_error is None:
            on_error = "ignore" if recursive else "raise"
        batch = self._collect(super().copy, path1, path2, recursive=recursive, maxdepth=maxdepth,
                              on_error=on_error, **kwargs)
        self._copy_pairs(batch.pairs, on_error, batch.kinds)

    def _copy_pairs(self, pairs: list[tuple[str, str]], on_error: str,
                    known: Optional[dict[str, str]] = None) -> None:
        if not pairs:
            return
        kinds = self._kinds([a for a, _ in pairs], known)
        todo = []
        for (a, b), kind in zip(pairs, kinds):
            if kind == "directory":
                continue
            if kind is None:
                if on_error == "raise":
                    raise FileNotFoundError(a)
                continue
            todo.append((a, b))
        errors = self.client.copy([a for a, _ in todo], [b for _, b in todo], on_error="return")
        self._invalidate_many(b for _, b in todo)
        for (a, _), e in zip(todo, errors):
            if e is None:
                continue
            if isinstance(e, FileNotFoundError) and on_error != "raise":
                continue
            raise self._named(e, a)

    def pipe_file(self, path: str, value: Any, mode: str = "overwrite", **kwargs: Any) -> None:
        """Write bytes to one key (``mode="create"`` raises FileExistsError
        if the key exists, atomically on servers with conditional writes)."""
        if mode not in ("overwrite", "create"):
            raise ValueError(f"mode must be 'overwrite' or 'create', got {mode!r}")
        path = self._strip_protocol(path)
        try:
            self.client.put_objects([path], [_encoded(value)], create_only=mode == "create",
                                    attrs=self._attrs(kwargs, path))
        finally:
            self.invalidate_cache(path)

    def pipe(self, path: Any, value: Any = None, **kwargs: Any) -> None:
        """Write many keys (``{path: bytes}``) in one concurrent engine call."""
        if isinstance(path, str):
            return self.pipe_file(path, value, **kwargs)
        if not isinstance(path, dict):
            raise ValueError("path must be str or dict")
        names = [self._strip_protocol(k) for k in path]
        try:
            self.client.put_objects(names, [_encoded(v) for v in path.values()],
                                    create_only=kwargs.get("mode") == "create", attrs=self._attrs(kwargs))
        finally:
            self._invalidate_many(names)

    # -- deleting and directories ----------------------------------------------------

    def rm_file(self, path: str) -> None:
        """Delete one key (no error if it does not exist)."""
        self.rm([path])

    def rm(self, path: Any, recursive: bool = False, maxdepth: Optional[int] = None) -> None:
        """Delete files (and with ``recursive`` whole prefixes and buckets):
        batched DeleteObjects, 1 000 keys a request, requests in parallel."""
        found: list[str] = []
        batch = self._collect(lambda: found.extend(self.expand_path(path, recursive=recursive, maxdepth=maxdepth)))
        paths = found
        keys = [p for p in paths if self.split_path(p)[1]]
        buckets = [p for p in paths if not self.split_path(p)[1]]
        dirs = [p for p in keys if p in batch.dirs or self._known_dir(p)]  # batch.dirs holds every "directory" kind
        dirset = set(dirs)
        # A folder's name is deleted as a key too when it may also be an
        # object ("a" beside "a/b"): a path given to rm (one key more per
        # path), or one a listing or the dircache saw as both.
        given = {self._strip_protocol(p) for p in (path if isinstance(path, (list, tuple)) else [path])}
        files = [p for p in keys
                 if p not in dirset or p in given or batch.kinds.get(p) == "file" or self._known_file(p)]
        try:
            if files:
                self.client.delete(files)
            if dirs:  # directory markers ("dir/" keys), after their contents
                self.client.delete([d + "/" for d in sorted(dirs, key=len, reverse=True)], on_error="return")
        finally:
            self._invalidate_many(keys)
        for b in buckets:
            try:
                self.client.remove_bucket(b)
            except FileNotFoundError:
                pass
            self.invalidate_cache(b)
            self.dircache.pop("", None)

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        """Create a bucket (``path`` names one, or ``create_parents`` and its
        bucket is missing); deeper "directories" need no creation in S3."""
        bucket, key, _ = self.split_path(path)
        if not key:
            self.client.make_bucket(bucket, kwargs.get("region_name"))
            self.dircache.pop("", None)
        elif create_parents and not self.exists(bucket):
            self.client.make_bucket(bucket, kwargs.get("region_name"))
            self.dircache.pop("", None)

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        """Create the bucket of ``path`` if needed."""
        bucket, _, _ = self.split_path(path)
        try:
            self.mkdir(bucket)
        except FileExistsError:
            if not exist_ok and not self.split_path(path)[1]:
                raise

    def rmdir(self, path: str) -> None:
        """Remove an empty bucket (prefixes vanish with their last key)."""
        bucket, key, _ = self.split_path(path)
        if not key:
            self.client.remove_bucket(bucket)
            self.invalidate_cache(bucket)
            self.dircache.pop("", None)

    def touch(self, path: str, truncate: bool = True, **kwargs: Any) -> None:
        """Create an empty object (S3 cannot update an existing one's time)."""
        if not truncate and self.exists(path):
            raise ValueError("S3 does not support touching existing files")
        self.pipe_file(path, b"", **kwargs)

    # -- metadata ------------------------------------------------------------------

    def modified(self, path: str) -> Any:
        """Last-modified time of an object (a timezone-aware datetime)."""
        info = self.info(path)
        if info["type"] != "file":
            raise IsADirectoryError(f"{path} is a directory: it has no modification time")
        return info["LastModified"]

    def created(self, path: str) -> Any:
        """S3 objects are immutable, so an object's creation time is its
        last-modified time (when its current version was written)."""
        return self.modified(path)

    def metadata(self, path: str, refresh: bool = False, **kwargs: Any) -> dict[str, str]:
        """The object's user metadata (``x-amz-meta-*``, as written with
        ``Metadata=``), from a HEAD."""
        _no_versions(kwargs, path)
        path = self._strip_protocol(path)
        res = self.client.stat([path], on_error="return")[0]
        if isinstance(res, BaseException):
            raise self._named(res, path)
        if res["type"] != "file":
            raise IsADirectoryError(f"{path} is a directory: it has no metadata")
        return dict(res["Metadata"])

    def getxattr(self, path: str, attr_name: str, **kwargs: Any) -> Optional[str]:
        """One user metadata value (None if the object has none of that name)."""
        return self.metadata(path, **kwargs).get(attr_name)

    def checksum(self, path: str) -> int:
        """An integer derived from the ETag (changes whenever content does)."""
        etag = self.ukey(path)
        return int(etag.strip('"').split("-")[0], 16)

    def ukey(self, path: str) -> str:
        """The object's ETag."""
        info = self.info(path)
        if info["type"] != "file":
            raise IsADirectoryError(path)
        return info["ETag"]

    def sign(self, path: str, expiration: int = 100, **kwargs: Any) -> str:
        """A presigned GET URL valid for ``expiration`` seconds."""
        return self.client.presign(self._strip_protocol(path), expires=expiration,
                                   method=kwargs.get("method", "GET"))

    def url(self, path: str, expires: int = 3600, client_method: str = "get_object", **kwargs: Any) -> str:
        """Like s3fs.url: a presigned URL (get_object or put_object)."""
        method = "PUT" if client_method == "put_object" else "GET"
        return self.client.presign(self._strip_protocol(path), expires=expires, method=method)

    # -- files ---------------------------------------------------------------------

    def _open(self, path: str, mode: str = "rb", block_size: Optional[int] = None, autocommit: bool = True,
              cache_options: Optional[dict[str, Any]] = None, cache_type: Optional[str] = None,
              **kwargs: Any) -> "S3File":
        return S3File(self, self._strip_protocol(path), mode, block_size=block_size or self.default_block_size,
                      autocommit=autocommit, cache_type=cache_type or self.default_cache_type,
                      cache_options=cache_options, **kwargs)


class S3File(AbstractBufferedFile):
    """A file on S3: ``rb`` reads through fsspec's cache with ranged GETs
    made by the engine (pinned to the ETag seen at open, so a replaced object
    raises ObjectChangedError instead of mixing versions); ``wb``/``xb``/``ab``
    stream into an engine multipart upload (one PUT when small)."""

    fs: S3FileSystem
    closed: bool  # set by fsspec's base class

    def __init__(self, fs: S3FileSystem, path: str, mode: str = "rb", block_size: Any = "default",
                 autocommit: bool = True, cache_type: str = "readahead",
                 cache_options: Optional[dict[str, Any]] = None, size: Optional[int] = None,
                 **kwargs: Any) -> None:
        if mode not in ("rb", "wb", "xb", "ab"):
            raise ValueError(f"mode {mode!r} not supported: use rb, wb, xb or ab")
        _no_versions(kwargs, path)
        self._writer: Any = None
        self._etag: Optional[str] = None
        self._put_attrs: Optional[dict[str, Any]] = None
        if mode == "rb":
            info = kwargs.pop("details", None) or fs.info(path)
            if info["type"] != "file":
                raise IsADirectoryError(f"{path} is a directory")
            self._etag = info.get("ETag")
            self._details = info
            if size is None:
                size = info["size"]
        else:
            self._put_attrs = fs._attrs(kwargs, path)  # an unknown option fails here, not at the first flush
            if mode == "xb" and fs.exists(path):
                raise FileExistsError(f"{path} already exists")
        appended = 0
        if mode == "ab":
            try:
                info = fs.info(path)
                appended = info["size"] if info["type"] == "file" else 0
            except FileNotFoundError:
                pass
        super().__init__(fs, path, mode, block_size, autocommit, cache_type, cache_options, size=size, **kwargs)
        # tell() counts from the end of the existing object, as Python's
        # own append mode and s3fs do (the engine copies it as part 1).
        self.loc = appended

    def _fetch_range(self, start: int, end: int) -> bytes:
        end = min(end, self.size)
        if end <= start:
            return b""
        out = _new_bytes(end - start)
        self.fs.client.read_range_into(self.path, start, _writable_view(out), etag=self._etag)
        return out

    def _initiate_upload(self) -> None:
        if self._writer is None:
            # The client's part size, raised by the engine to what lets
            # 10 000 parts reach S3's largest object.
            self._writer = self.fs.client.open_writer(
                self.path, create_only=self.mode == "xb", append=self.mode == "ab", attrs=self._put_attrs)

    def _upload_chunk(self, final: bool = False) -> bool:
        self._initiate_upload()
        data = self.buffer.getbuffer()
        try:
            if len(data):
                self._writer.write(data)
        finally:
            del data
        if final and self.autocommit:
            self.commit()
        return True

    def commit(self) -> None:
        """Complete the upload (called at close unless autocommit=False)."""
        if self._writer is None:
            self._initiate_upload()
        try:
            self._writer.close()
        finally:
            self.fs.invalidate_cache(self.path)

    def discard(self) -> None:
        """Abandon the upload: nothing is written."""
        if self._writer is not None:
            self._writer.abort()

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        if exc_type is not None and self.mode != "rb" and not self.closed:
            # An exception inside `with open(..., "wb")` must not publish a
            # truncated object (fsspec's default would complete the upload).
            self.discard()
            self.closed = True
            return
        self.close()

    def close(self) -> None:
        if getattr(self, "closed", True):
            return
        try:
            super().close()
        except BaseException:
            if self.mode != "rb":
                self.discard()
            raise


def _within(p: str, root: str) -> bool:
    """Whether absolute path p is root or lies below it (by components:
    /data/out2 is not inside /data/out)."""
    return p == root or p.startswith(root.rstrip(os.sep) + os.sep)


def _writable_view(b: bytes) -> Any:
    """A writable ctypes view of a fresh, unshared bytes object, so the
    engine fills it in place: the bytes object is only handed out after it
    is completely filled, and this saves a second copy of every read."""
    n = len(b)
    if not n:
        return bytearray(0)
    addr = ctypes.cast(ctypes.c_char_p(b), ctypes.c_void_p).value
    return (ctypes.c_char * n).from_address(addr)  # type: ignore[arg-type]
