"""pytest plugin: storage for restic tests.

- `s3_server`: one real S3 server (SeaweedFS, credentials enforced) per test session/worker.
- `s3_prefix`: a fresh prefix inside its bucket per test.
- `restic_repository`: a fresh, initialised local restic repository per test (a copy of one
  initialised once per session, because `restic init` spends seconds on its key derivation).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.infra.s3 import S3Server, SeaweedProcess

TEST_RESTIC_PASSWORD = "restic-test-password-7f3a"


@dataclass(frozen=True)
class LocalResticRepository:
    """An initialised restic repository on disk and what it takes to open it."""

    path: Path
    password: str
    cache_dir: Path

    def env(self, prefix: str = "") -> dict[str, str]:
        """The variables restic (or the executor) needs to open this repository."""
        return {f"{prefix}RESTIC_PASSWORD": self.password, "RESTIC_CACHE_DIR": str(self.cache_dir)}

    def restic(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run real restic on this repository."""
        env = {"PATH": "/usr/bin:/bin", "RESTIC_REPOSITORY": str(self.path), **self.env()}
        return subprocess.run(
            ["restic", *args], env=env, capture_output=True, text=True, check=check
        )

    def dump(self, snapshot_id: str, filename: str) -> bytes:
        """The bytes of one file of a snapshot (`restic dump`)."""
        env = {"PATH": "/usr/bin:/bin", "RESTIC_REPOSITORY": str(self.path), **self.env()}
        done = subprocess.run(
            ["restic", "dump", snapshot_id, filename], env=env, capture_output=True, check=True
        )
        return done.stdout

    def snapshot_ids(self) -> list[str]:
        """Full ids of every snapshot in the repository."""
        return [item["id"] for item in json.loads(self.restic("snapshots", "--json").stdout)]


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


@pytest.fixture(scope="session")
def _restic_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("restic-template") / "repo"
    subprocess.run(
        ["restic", "init", "--repo", str(path)],
        env={"PATH": "/usr/bin:/bin", "RESTIC_PASSWORD": TEST_RESTIC_PASSWORD},
        capture_output=True,
        check=True,
    )
    return path


@pytest.fixture
def restic_repository(_restic_template: Path, tmp_path: Path) -> LocalResticRepository:
    """A fresh, empty, initialised local restic repository for this test."""
    path = tmp_path / "repo"
    shutil.copytree(_restic_template, path)
    return LocalResticRepository(path, TEST_RESTIC_PASSWORD, tmp_path / "restic-cache")


@pytest.fixture
def second_restic_repository(_restic_template: Path, tmp_path: Path) -> LocalResticRepository:
    """Another fresh repository beside `restic_repository` (for fan-out tests)."""
    path = tmp_path / "repo2"
    shutil.copytree(_restic_template, path)
    return LocalResticRepository(path, TEST_RESTIC_PASSWORD, tmp_path / "restic-cache2")
