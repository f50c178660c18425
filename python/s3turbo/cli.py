"""Command line: ``s3turbo ls|du|count`` (also ``python -m s3turbo``).

Options go after the subcommand (``s3turbo ls --endpoint-url URL PATH``).
Exit codes: 0 success, 1 other errors, 2 usage, 3 not found, 4 access
denied, 5 endpoint unreachable or timed out, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable, Optional, Sequence

from ._ffi import CorruptDataError
from .client import Client

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_DENIED, EXIT_UNREACHABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 5, 130


def _human(n: int) -> str:
    x = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(x) < 1024 or unit == "PiB":
            return f"{x:.0f} {unit}" if unit == "B" else f"{x:.1f} {unit}"
        x /= 1024
    return str(n)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("connection")
    g.add_argument("--endpoint-url", help="S3 endpoint (default: AWS chain, e.g. AWS_ENDPOINT_URL)")
    g.add_argument("--profile", help="named profile from the AWS config files")
    g.add_argument("--region", help="signing region")
    g.add_argument("--anon", action="store_true", help="unsigned requests (public buckets)")
    g.add_argument("--max-concurrency", type=int, default=64, help="requests in flight (default 64)")
    g.add_argument("--retries", type=int, default=5, help="attempts per request (default 5)")
    o = common.add_argument_group("output")
    o.add_argument("--format", choices=("text", "jsonl"), default="text", help="output format (default text)")
    o.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="progress bar on stderr (default: when stderr is a terminal)")
    o.add_argument("--no-progress", dest="progress", action="store_false")
    o.add_argument("--serial", action="store_true", help="list serially (default: adaptive parallel listing)")

    p = argparse.ArgumentParser(prog="s3turbo", description="Fast S3 listing, sizes and counts.")
    sub = p.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("ls", parents=[common], help="list keys", description="List one level, or everything with -r.")
    ls.add_argument("path", help="bucket[/prefix], s3:// accepted")
    ls.add_argument("-r", "--recursive", action="store_true", help="list every key below PATH")
    ls.add_argument("-l", "--long", action="store_true", help="show size and modification time")
    du = sub.add_parser("du", parents=[common], help="total size and object count",
                        description="Total size and count below PATH, optionally per prefix.")
    du.add_argument("path")
    du.add_argument("-d", "--depth", type=int, default=0, help="also group by prefixes N levels below PATH")
    du.add_argument("-H", "--human", action="store_true", help="sizes in KiB/MiB/GiB")
    cnt = sub.add_parser("count", parents=[common], help="number of objects", description="Count objects below PATH.")
    cnt.add_argument("path")
    return p


def _client(a: argparse.Namespace) -> Client:
    return Client(endpoint_url=a.endpoint_url, profile=a.profile, region=a.region, anon=a.anon,
                  max_concurrency=a.max_concurrency, retries=a.retries)


def _emit(fmt: str, obj: dict[str, Any], text: str) -> None:
    sys.stdout.write((json.dumps(obj, default=str) if fmt == "jsonl" else text) + "\n")


def _run(a: argparse.Namespace) -> None:
    client = _client(a)
    progress = a.progress if a.progress is not None else sys.stderr.isatty()
    if a.command == "ls":
        entries = client.list(a.path, recursive=a.recursive, parallel=a.recursive and not a.serial,
                              sorted=True, progress=progress)
        listed = False
        for e in entries:
            listed = True
            if a.long:
                when = e["LastModified"].strftime("%Y-%m-%d %H:%M:%S") if "LastModified" in e else "-" * 19
                size = "DIR" if e["type"] == "directory" else str(e["size"])
                text = f"{when} {size:>12} {e['name']}"
            else:
                text = e["name"] + ("/" if e["type"] == "directory" else "")
            _emit(a.format, e, text)
        if not listed and a.path.split("://", 1)[-1].partition("/")[2]:  # a prefix, "/" too
            # An empty bucket lists nothing and exists (a missing one
            # raised above); a prefix that lists nothing is not there, as
            # Client.ls says and `aws s3 ls` exits 1 for.
            raise FileNotFoundError(f"no object or prefix s3://{a.path.removeprefix('s3://')}")
    elif a.command == "du":
        r = client.du(a.path, depth=a.depth, parallel=not a.serial, progress=progress)
        fmt_size: Callable[[int], str] = _human if a.human else str
        for prefix, (psize, pcount) in r.by_prefix.items():
            _emit(a.format, {"path": prefix, "size": psize, "count": pcount},
                  f"{fmt_size(psize)}\t{pcount}\t{prefix}")
        _emit(a.format, {"path": r.path, "size": r.size, "count": r.count, "requests": r.requests, "total": True},
              f"{fmt_size(r.size)}\t{r.count}\t{r.path} (total)" if a.depth else f"{fmt_size(r.size)}\t{r.count}\t{r.path}")
    elif a.command == "count":
        r = client.du(a.path, parallel=not a.serial, progress=progress)
        _emit(a.format, {"path": r.path, "count": r.count}, str(r.count))
    sys.stdout.flush()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the CLI; returns the exit code."""
    a = _parser().parse_args(argv)
    try:
        _run(a)
        return EXIT_OK
    except KeyboardInterrupt:
        print("s3turbo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK  # e.g. `s3turbo ls -r ... | head`
    except FileNotFoundError as e:
        print(f"s3turbo: not found: {e}", file=sys.stderr)
        return EXIT_NOT_FOUND
    except PermissionError as e:
        print(f"s3turbo: access denied: {e}", file=sys.stderr)
        return EXIT_DENIED
    except (ConnectionError, TimeoutError) as e:
        print(f"s3turbo: cannot reach the endpoint: {e}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except UnicodeEncodeError as e:
        # Not a usage error: the output stopped part-way (a key this
        # terminal's encoding cannot show; PYTHONIOENCODING=utf-8 can).
        print(f"s3turbo: error: cannot write a name in {sys.stdout.encoding}: {e}", file=sys.stderr)
        return EXIT_ERROR
    except CorruptDataError as e:
        print(f"s3turbo: error: {e}", file=sys.stderr)  # the server's answers, not the arguments
        return EXIT_ERROR
    except ValueError as e:
        print(f"s3turbo: {e}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:
        print(f"s3turbo: error: {e}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
