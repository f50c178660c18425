"""pandas, pyarrow and dask through s3turbo's fsspec filesystem."""

from __future__ import annotations

from typing import Any

import pytest

from s3turbo import S3FileSystem

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
ds = pytest.importorskip("pyarrow.dataset")
dd = pytest.importorskip("dask.dataframe")


@pytest.fixture
def opts(endpoint: Any) -> dict[str, Any]:
    return {"key": endpoint.key, "secret": endpoint.secret, "endpoint_url": endpoint.url}


def frame(n: int = 1000, offset: int = 0) -> Any:
    return pd.DataFrame({"i": range(offset, offset + n), "s": [f"row-{i}" for i in range(offset, offset + n)],
                         "f": [i / 3 for i in range(offset, offset + n)]})


def test_pandas_csv_round_trip(opts: dict[str, Any], s3: Any, bucket: str) -> None:
    df = frame()
    df.to_csv(f"s3turbo://{bucket}/pd/data.csv", index=False, storage_options=opts)
    # boto3 reads back what pandas wrote through s3turbo
    raw = s3.get_object(Bucket=bucket, Key="pd/data.csv")["Body"].read().decode()
    assert raw.splitlines()[0] == "i,s,f" and len(raw.splitlines()) == 1001
    back = pd.read_csv(f"s3turbo://{bucket}/pd/data.csv", storage_options=opts)
    pd.testing.assert_frame_equal(back, df)


def test_pandas_parquet_round_trip(opts: dict[str, Any], bucket: str) -> None:
    df = frame(5000)
    df.to_parquet(f"s3turbo://{bucket}/pd/data.parquet", storage_options=opts)
    back = pd.read_parquet(f"s3turbo://{bucket}/pd/data.parquet", storage_options=opts)
    pd.testing.assert_frame_equal(back, df)
    cols = pd.read_parquet(f"s3turbo://{bucket}/pd/data.parquet", columns=["s"], storage_options=opts)
    assert list(cols["s"][:2]) == ["row-0", "row-1"]


def test_pandas_missing_file(opts: dict[str, Any], bucket: str) -> None:
    with pytest.raises(FileNotFoundError):
        pd.read_csv(f"s3turbo://{bucket}/pd/nope.csv", storage_options=opts)


def test_pyarrow_dataset(opts: dict[str, Any], bucket: str) -> None:
    import pyarrow.parquet as pq

    fs = S3FileSystem(**opts)
    for part in range(3):
        with fs.open(f"{bucket}/ds/part={part}/data.parquet", "wb") as f:
            pq.write_table(pa.Table.from_pandas(frame(100, part * 100), preserve_index=False), f)
    dataset = ds.dataset(f"{bucket}/ds", filesystem=fs, format="parquet", partitioning="hive")
    table = dataset.to_table()
    assert table.num_rows == 300
    assert sorted(table.column("i").to_pylist()) == list(range(300))
    filtered = dataset.to_table(filter=ds.field("part") == 1)
    assert sorted(filtered.column("i").to_pylist()) == list(range(100, 200))


def test_dask_read_csv_many_files(opts: dict[str, Any], bucket: str) -> None:
    fs = S3FileSystem(**opts)
    fs.pipe({f"{bucket}/dk/part-{i:03d}.csv": frame(50, i * 50).to_csv(index=False).encode() for i in range(40)})
    ddf = dd.read_csv(f"s3turbo://{bucket}/dk/part-*.csv", storage_options=opts)
    assert ddf.npartitions == 40
    got = ddf.compute().sort_values("i").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, frame(2000), check_dtype=False)
    assert list(got["s"][:2]) == ["row-0", "row-1"]
