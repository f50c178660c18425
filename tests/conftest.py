"""Shared fixtures: a real S3-compatible server for the whole session.

By default a versitygw (posix backend) is started on a free loopback port.
Set S3TURBO_TEST_ENDPOINT (+ S3TURBO_TEST_KEY, S3TURBO_TEST_SECRET,
optionally S3TURBO_TEST_REGION) to run the unchanged suite against another
server (MinIO, AWS, ...).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Any, Iterator

import boto3
import pytest
from botocore.config import Config

import s3turbo
from s3turbo.testing import LocalS3Server, MemS3Server


@dataclass
class Endpoint:
    """Where the suite's S3 server lives."""

    url: str
    key: str
    secret: str
    region: str = "us-east-1"
    root: str | None = None  # data directory when we run the server ourselves

    def client_kwargs(self) -> dict[str, Any]:
        return dict(endpoint_url=self.url, key=self.key, secret=self.secret, region=self.region)

    def client(self, **kw: Any) -> s3turbo.Client:
        return s3turbo.Client(**{**self.client_kwargs(), **kw})

    def boto3(self) -> Any:
        return boto3.client(
            "s3", endpoint_url=self.url, aws_access_key_id=self.key, aws_secret_access_key=self.secret,
            region_name=self.region, config=Config(max_pool_connections=64),
        )


@pytest.fixture(scope="session")
def endpoint() -> Iterator[Endpoint]:
    url = os.environ.get("S3TURBO_TEST_ENDPOINT")
    if url:
        yield Endpoint(
            url, os.environ.get("S3TURBO_TEST_KEY", ""), os.environ.get("S3TURBO_TEST_SECRET", ""),
            os.environ.get("S3TURBO_TEST_REGION", "us-east-1"),
        )
        return
    with LocalS3Server() as srv:
        yield Endpoint(srv.endpoint_url, srv.key, srv.secret, root=srv.root)


@pytest.fixture(scope="session")
def mem_endpoint(endpoint: Endpoint) -> Iterator[Endpoint]:
    """A server that can hold an object "a" beside keys under "a/": the
    suite's own when it is external (S3 can), else gofakes3 in memory
    (s3turbo.testing.MemS3Server; versitygw's posix backend cannot)."""
    if os.environ.get("S3TURBO_TEST_ENDPOINT"):
        yield endpoint
        return
    with MemS3Server() as srv:
        yield Endpoint(srv.endpoint_url, srv.key, srv.secret)


@pytest.fixture(scope="session")
def s3(endpoint: Endpoint) -> Any:
    """The reference client: boto3."""
    return endpoint.boto3()


@pytest.fixture(scope="session")
def client(endpoint: Endpoint) -> Iterator[s3turbo.Client]:
    c = endpoint.client()
    yield c
    c.close()


def _new_bucket(s3: Any) -> str:
    name = f"s3turbo-test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def _drop_bucket(s3: Any, name: str) -> None:
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=name):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        for i in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=name, Delete={"Objects": keys[i : i + 1000], "Quiet": True})
    s3.delete_bucket(Bucket=name)


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    """A fresh, empty bucket for one test; removed afterwards."""
    name = _new_bucket(s3)
    yield name
    _drop_bucket(s3, name)


@pytest.fixture(scope="module")
def module_bucket(s3: Any) -> Iterator[str]:
    """A bucket shared by one test module (for data sets costly to create)."""
    name = _new_bucket(s3)
    yield name
    _drop_bucket(s3, name)
