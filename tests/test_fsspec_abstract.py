"""fsspec's own conformance suite (Copy, Get, Put, Pipe, Open) against the
real server, wired the way s3fs does in s3fs/tests/derived/."""

from __future__ import annotations

from typing import Any, Iterator

import fsspec.tests.abstract as abstract
import pytest
from fsspec.tests.abstract import AbstractFixtures

from s3turbo import S3FileSystem


class S3TurboFixtures(AbstractFixtures):
    @pytest.fixture
    def fs(self, endpoint: Any, bucket: str) -> Iterator[S3FileSystem]:
        fs = S3FileSystem(key=endpoint.key, secret=endpoint.secret, endpoint_url=endpoint.url,
                          client_kwargs={"region_name": endpoint.region})
        fs.invalidate_cache()
        yield fs
        fs.invalidate_cache()

    @pytest.fixture
    def fs_path(self, bucket: str) -> str:
        return bucket

    @pytest.fixture
    def supports_empty_directories(self) -> bool:
        # S3 has no directories: a prefix exists only while keys are under it.
        return False


class TestS3TurboCopy(abstract.AbstractCopyTests, S3TurboFixtures):
    pass


class TestS3TurboGet(abstract.AbstractGetTests, S3TurboFixtures):
    pass


class TestS3TurboPut(abstract.AbstractPutTests, S3TurboFixtures):
    pass


class TestS3TurboPipe(abstract.AbstractPipeTests, S3TurboFixtures):
    pass


class TestS3TurboOpen(abstract.AbstractOpenTests, S3TurboFixtures):
    pass
