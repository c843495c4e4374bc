"""pytest plugin: real ZooKeeper fixtures (one standalone server per xdist worker, a lazy ensemble).

- `zookeeper`: session-scoped standalone `ZooKeeperServer` (one per worker process).
- `zk_root`: a unique absolute path per test (not created), so tests never see each other's nodes.
- `zk_client`: a started kazoo client authenticated as the super user (reads every ACL unredacted).
- `zookeeper_ensemble`: session-scoped 3-member `ZooKeeperEnsemble`, started on first use.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator

import pytest
from kazoo.client import KazooClient

from tests.infra.zookeeper import SUPER_PASSWORD, SUPER_USER, ZooKeeperEnsemble, ZooKeeperServer

_counter = itertools.count()


@pytest.fixture(scope="session")
def zookeeper() -> Iterator[ZooKeeperServer]:
    """A standalone ZooKeeper on 127.0.0.1, shared by the tests of this worker."""
    with ZooKeeperServer() as server:
        yield server


@pytest.fixture(scope="session")
def zookeeper_ensemble() -> Iterator[ZooKeeperEnsemble]:
    """A 3-member ensemble on 127.0.0.1 (started lazily, only by tests that ask for it)."""
    with ZooKeeperEnsemble() as ensemble:
        yield ensemble


@pytest.fixture
def zk_root() -> str:
    """A unique, not yet existing, absolute path for one test's nodes."""
    return f"/t-{uuid.uuid4().hex[:10]}-{next(_counter)}"


def super_client(hosts: str) -> KazooClient:
    """A started kazoo client on `hosts` authenticated as the test super user."""
    client = KazooClient(
        hosts=hosts, auth_data=[("digest", f"{SUPER_USER}:{SUPER_PASSWORD}")], timeout=15
    )
    client.start(timeout=15)
    return client


@pytest.fixture
def zk_client(zookeeper: ZooKeeperServer) -> Iterator[KazooClient]:
    """A super-authenticated kazoo client on the worker's standalone server."""
    client = super_client(zookeeper.hosts)
    try:
        yield client
    finally:
        client.stop()
        client.close()


@pytest.fixture
def zk_settings(zookeeper: ZooKeeperServer):
    """Executor connection settings for the worker's server, authenticated as super user."""
    from executor.zk.connection import ZkConnectionSettings

    return ZkConnectionSettings(
        hosts=zookeeper.hosts, auth="digest", username=SUPER_USER, password=SUPER_PASSWORD
    )
