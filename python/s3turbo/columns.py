"""Compact columns for bulk listings (see Client.list_columns)."""

from __future__ import annotations

import array
import bisect
from typing import Any, Iterator, Sequence, Union, overload

from ._ffi import split_strings

__all__ = ["Names"]

_Chunk = tuple[bytes, "array.array[int]"]


class Names(Sequence[str]):
    """The names of a listing (``bucket/key``), stored as the engine wrote them
    and decoded to ``str`` on access.

    A list of a million Python strings costs ~90 bytes a name and a few
    hundred milliseconds to build; this column keeps each page's names as one
    UTF-8 buffer plus int64 offsets (~8 bytes a name over the names
    themselves), so :meth:`Client.list_columns` returns as soon as the last
    page arrives. It is an immutable, picklable ``Sequence[str]``: ``len``,
    indexing (negative too), slices (which return ``list[str]``), iteration,
    ``in``, and ``==`` against another ``Names`` or a list/tuple of str all
    work. :meth:`tolist` decodes everything at once, the fastest way to get
    every name as ``str`` (``pandas.Series(names.tolist())``).

    Keys that are not valid UTF-8 (possible on some S3-compatible servers)
    decode with ``surrogateescape``, as everywhere in s3turbo, so
    ``name.encode("utf-8", "surrogateescape")`` gives back the key's bytes.
    """

    __slots__ = ("_chunks", "_starts", "_n")

    def __init__(self, chunks: Sequence[_Chunk] = ()) -> None:
        """``chunks``: ``(data, offsets)`` pairs in order, as the engine lays
        out a string column: every name followed by ``\\n`` in ``data``, name
        i at ``data[offsets[i]:offsets[i + 1] - 1]``, ``len(offsets)`` = names + 1."""
        self._chunks: list[_Chunk] = [c for c in chunks if len(c[1]) > 1]
        self._starts: list[int] = []
        n = 0
        for _, offs in self._chunks:
            self._starts.append(n)
            n += len(offs) - 1
        self._n = n

    def __len__(self) -> int:
        return self._n

    def _decode(self, j: int) -> list[str]:
        data, offs = self._chunks[j]
        return split_strings(data, len(offs) - 1, lambda: offs)

    def _one(self, i: int) -> str:
        j = bisect.bisect_right(self._starts, i) - 1
        data, offs = self._chunks[j]
        k = i - self._starts[j]
        return data[offs[k] : offs[k + 1] - 1].decode("utf-8", "surrogateescape")

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: Union[int, slice]) -> Union[str, list[str]]:
        if isinstance(i, slice):
            start, stop, step = i.indices(self._n)
            if step != 1:
                return [self._one(k) for k in range(start, stop, step)]
            if start >= stop:
                return []
            out: list[str] = []
            j = bisect.bisect_right(self._starts, start) - 1
            while j < len(self._chunks) and self._starts[j] < stop:
                base = self._starts[j]
                out.extend(self._decode(j)[max(start - base, 0) : stop - base])
                j += 1
            return out
        try:
            k = i.__index__()
        except AttributeError:
            raise TypeError(f"Names indices must be integers or slices, not {type(i).__name__}") from None
        if k < 0:
            k += self._n
        if not 0 <= k < self._n:
            raise IndexError(f"Names index {i} out of range for {self._n} names")
        return self._one(k)

    def __iter__(self) -> Iterator[str]:
        for j in range(len(self._chunks)):
            yield from self._decode(j)

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        try:
            needle = value.encode("utf-8", "surrogateescape") + b"\n"
        except UnicodeEncodeError:
            return False  # a lone surrogate no name decodes to (names only hold \udc80-\udcff)
        for data, offs in self._chunks:
            at = data.find(needle)
            while at >= 0:
                k = bisect.bisect_left(offs, at)
                if k < len(offs) - 1 and offs[k] == at and offs[k + 1] == at + len(needle):
                    return True
                at = data.find(needle, at + 1)
        return False

    def tolist(self) -> list[str]:
        """Every name as a ``str``, in order."""
        out: list[str] = []
        for j in range(len(self._chunks)):
            out.extend(self._decode(j))
        return out

    @property
    def nbytes(self) -> int:
        """Bytes held: the UTF-8 names with their separators, and the offsets."""
        return sum(len(d) + offs.itemsize * len(offs) for d, offs in self._chunks)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Names):
            return self._n == other._n and self.tolist() == other.tolist()
        if isinstance(other, (list, tuple)):
            return self._n == len(other) and self.tolist() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        if self._n <= 4:
            return f"Names({self.tolist()!r})"
        return f"Names([{self[0]!r}, {self[1]!r}, ..., {self[-1]!r}], {self._n} names)"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Names, (self._chunks,))
