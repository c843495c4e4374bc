"""pytest plugin: one real S3 server (SeaweedFS) per test session, a fresh prefix per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.infra.s3 import S3Server, SeaweedProcess


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A running SeaweedFS S3 endpoint on 127.0.0.1 that accepts only its own credentials."""
    process = SeaweedProcess(tmp_path_factory.mktemp("seaweedfs"))
    server = process.start()
    try:
        yield server
    finally:
        process.stop()


@pytest.fixture
def s3_prefix() -> str:
    """A prefix inside the bucket that no other test uses."""
    return f"t-{uuid.uuid4().hex[:12]}"
