"""s3turbo.Names, the compact name column of Client.list_columns, against a
plain list of str (no server needed: columns are built the way the engine
lays them out, one chunk per page)."""

from __future__ import annotations

import array
import pickle
import random
from typing import Any

import pytest

from s3turbo import Names


def chunked(names: list[str], sizes: list[int]) -> Names:
    """A column of len(sizes) chunks, as list_columns builds one per page."""
    chunks: list[tuple[bytes, "array.array[int]"]] = []
    at = 0
    for k in sizes:
        part = names[at : at + k]
        at += k
        data = b"".join(s.encode("utf-8", "surrogateescape") + b"\n" for s in part)
        offs = array.array("q", [0])
        for s in part:
            offs.append(offs[-1] + len(s.encode("utf-8", "surrogateescape")) + 1)
        chunks.append((data, offs))
    assert at == len(names)
    return Names(chunks)


PLAIN = [f"b/{i:05d}" for i in range(2500)]
ODD = ["b/", "b/a\nb", "b/\n", "b/é/ü", "b/\udcff raw byte", "b/\x00\x01", "b/x y", "b/" + "z" * 3000]

CASES: dict[str, tuple[list[str], list[int]]] = {
    "one chunk": (PLAIN, [2500]),
    "pages": (PLAIN, [1000, 1000, 500]),
    "uneven pages and empty ones": (PLAIN, [1, 0, 999, 1500, 0]),
    "newlines, non-UTF-8, long": (ODD, [3, 0, 5]),
    "empty": ([], []),
}


@pytest.mark.parametrize("case", CASES)
def test_names_behave_like_a_list(case: str) -> None:
    names, sizes = CASES[case]
    col = chunked(names, sizes)
    assert len(col) == len(names)
    assert list(col) == names and col.tolist() == names
    assert col == names and col == tuple(names) and col == chunked(names, [len(names)] if names else [])
    assert col != names + ["b/extra"] and (not names or col != names[::-1] or names == names[::-1])
    for i in range(-len(names), len(names)):
        assert col[i] == names[i], i
    rnd = random.Random(case)
    for _ in range(200):
        a, b = rnd.randrange(-len(names) - 5, len(names) + 5), rnd.randrange(-len(names) - 5, len(names) + 5)
        step = rnd.choice([None, 1, 2, 7, -1, -3])
        assert col[a:b:step] == names[a:b:step], (a, b, step)
    assert col[:] == names and col[::-1] == names[::-1]
    for s in names[:50] + names[-50:]:
        assert s in col
        assert col.index(s) == names.index(s)
    assert col.count(names[0]) == 1 if names else True
    back = pickle.loads(pickle.dumps(col))
    assert isinstance(back, Names) and back == names


@pytest.mark.parametrize("probe", ["b/a", "b/b", "a\nb", "b/a\nb\n", "b/é", "", "b/0000", "b/00000\nb/00001", "b/00001",
                                   "b/\ud83d", "b/\udce9"])
def test_names_contains_only_whole_names(probe: str) -> None:
    names = ["b/a\nb", "b/é/ü", "b/00001"]
    col = chunked(names, [1, 2])
    assert (probe in col) == (probe in names)
    assert 1 not in col and b"b/00001" not in col


def test_names_errors_and_repr() -> None:
    col = chunked(PLAIN, [1000, 1500])
    with pytest.raises(IndexError, match="2500"):
        col[2500]
    with pytest.raises(IndexError):
        col[-2501]
    with pytest.raises(TypeError, match="str"):
        col["b/00001"]  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        hash(col)
    assert repr(col) == "Names(['b/00000', 'b/00001', ..., 'b/02499'], 2500 names)"
    assert repr(chunked(["b/a\nb"], [1])) == "Names(['b/a\\nb'])"
    # ~8 bytes of offsets per name over the names, not ~90 bytes of str object
    assert col.nbytes == sum(len(s) + 1 for s in PLAIN) + 8 * (len(PLAIN) + 2)


def test_names_numpy_and_pandas_friendly() -> None:
    np: Any = pytest.importorskip("numpy")
    col = chunked(PLAIN, [1000, 1500])
    assert np.array(col.tolist()).shape == (2500,)
    assert list(np.asarray(col[10:13])) == PLAIN[10:13]
