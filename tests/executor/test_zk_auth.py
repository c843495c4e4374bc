"""Authentication: SASL DIGEST-MD5 sessions dump and restore through kazoo; bad credentials
give a clear error."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator

import pytest
from kazoo.security import ACL, Id, make_digest_acl

from executor.dump import DumpError, DumpOptions, dump
from executor.restore import RestoreOptions, restore
from executor.stream import StreamReader
from executor.zk.connection import ZkConnectionSettings
from tests.infra.zookeeper import SUPER_PASSWORD, SUPER_USER, ZooKeeperServer
from tests.infra.zookeeper_fixtures import super_client

SASL_USER, SASL_PASSWORD = "bob", "bob-secret"


@pytest.fixture(scope="module")
def sasl_zookeeper() -> Iterator[ZooKeeperServer]:
    with ZooKeeperServer(sasl_users={SASL_USER: SASL_PASSWORD}) as server:
        yield server


def test_sasl_user_dumps_and_restores_its_nodes(sasl_zookeeper):
    bob_only = [ACL(31, Id("sasl", SASL_USER))]
    client = super_client(sasl_zookeeper.hosts)
    try:
        client.create("/app/config", b"sasl-data", acl=bob_only, makepath=True)
    finally:
        client.stop()
    settings = ZkConnectionSettings(sasl_zookeeper.hosts, "sasl", SASL_USER, SASL_PASSWORD)
    out = io.BytesIO()
    summary = dump(settings, DumpOptions(root="/app"), out)
    records = list(StreamReader(io.BytesIO(out.getvalue())))
    assert [(r.path, r.data) for r in records] == [("/app", b""), ("/app/config", b"sasl-data")]
    assert records[1].acl[0].scheme == "sasl"
    assert summary.read_mode == "multiread"

    restore(
        settings,
        lambda: contextlib.nullcontext(io.BytesIO(out.getvalue())),
        RestoreOptions(target_root="/copy"),
    )
    client = super_client(sasl_zookeeper.hosts)
    try:
        assert client.get("/copy/config")[0] == b"sasl-data"
        assert client.get_acls("/copy/config")[0] == bob_only
    finally:
        client.stop()


def test_wrong_digest_password_is_a_clear_not_authorized_error(zk_client, zookeeper, zk_root):
    # ZooKeeper accepts any digest credentials (a wrong password is just another identity),
    # so the failure shows up as the first read that identity may not do
    zk_client.create(zk_root, b"", acl=[make_digest_acl(SUPER_USER, SUPER_PASSWORD, all=True)])
    settings = ZkConnectionSettings(zookeeper.hosts, "digest", SUPER_USER, "wrong", timeout=5.0)
    with pytest.raises(DumpError, match=f"not authorized to read under '{zk_root}'"):
        dump(settings, DumpOptions(root=zk_root), io.BytesIO())


def test_digest_auth_without_password_is_rejected(zookeeper):
    settings = ZkConnectionSettings(zookeeper.hosts, "digest", "super", None)
    with pytest.raises(DumpError, match="needs both a username and a password"):
        dump(settings, DumpOptions(), io.BytesIO())
