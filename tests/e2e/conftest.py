"""End-to-end fixtures: the real hooks server (gunicorn, once per session) and a fresh stand-in
cluster per test, driven by the project's manifests, with Jobs running the real executor.

Backups go to the worker's shared ZooKeeper (each test under its own `zk_root`); restores go to
a second ZooKeeper that no backup reads, each into its own empty chroot (`restore_hosts`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.flow import zookeeper_client
from tests.infra.zookeeper import ZooKeeperServer
from tests.standin.hooks_server import HooksServer
from tests.standin.kubectl import Kubectl
from tests.standin.standin import Standin


@pytest.fixture(scope="session")
def hooks_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HooksServer]:
    """The real hooks app under gunicorn on a free 127.0.0.1 port."""
    server = HooksServer(tmp_path_factory.mktemp("hooks") / "hooks.log").start()
    yield server
    server.stop()


@pytest.fixture
def cluster(hooks_server: HooksServer, tmp_path: Path) -> Iterator[Standin]:
    """A fresh stand-in cluster with the project's CRDs, addon catalog and controllers."""
    standin = Standin(hooks_server.url, tmp_path / "cluster", job_backoff_seconds=1.0)
    yield standin
    standin.close()


@pytest.fixture
def kubectl(cluster: Standin) -> Kubectl:
    """kubectl against the stand-in cluster."""
    return Kubectl(cluster)


@pytest.fixture
def backup_dir(tmp_path: Path) -> Path:
    """The local backend's directory (hostPath mounted at the same path)."""
    path = tmp_path / "backups"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def restore_zookeeper() -> Iterator[ZooKeeperServer]:
    """A second standalone ZooKeeper that receives restores only."""
    with ZooKeeperServer() as server:
        yield server


@pytest.fixture
def restore_hosts(restore_zookeeper: ZooKeeperServer) -> str:
    """`host:port/chroot` of an empty chroot on the restore ZooKeeper, for one test."""
    chroot = f"/restore-{uuid.uuid4().hex[:10]}"
    with zookeeper_client(restore_zookeeper.hosts) as client:
        client.create(chroot)
    return f"{restore_zookeeper.hosts}{chroot}"
