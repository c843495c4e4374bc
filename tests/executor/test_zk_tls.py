"""TLS: the executor dumps and restores over ZooKeeper's secure client port (both its kazoo
session and its bulk-read session use TLS, verifying the server against the given CA)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator

import pytest

from executor.dump import DumpError, DumpOptions, dump
from executor.restore import RestoreOptions, restore
from executor.stream import StreamReader
from executor.zk.connection import ZkConnectionSettings, connect, disconnect
from tests.infra.zookeeper import (
    SUPER_PASSWORD,
    SUPER_USER,
    ZooKeeperServer,
    make_test_certificates,
)


@pytest.fixture(scope="module")
def tls_zookeeper() -> Iterator[ZooKeeperServer]:
    with ZooKeeperServer(tls=True) as server:
        yield server


def tls_settings(server: ZooKeeperServer, **overrides) -> ZkConnectionSettings:
    values = {
        "hosts": f"127.0.0.1:{server.tls_port}",
        "auth": "digest",
        "username": SUPER_USER,
        "password": SUPER_PASSWORD,
        "tls_ca": server.ca_file,
        "timeout": 10.0,
    }
    return ZkConnectionSettings(**(values | overrides))


def test_dump_and_restore_over_tls(tls_zookeeper):
    settings = tls_settings(tls_zookeeper)
    client = connect(settings)
    try:
        client.create("/secure/a", b"over tls", makepath=True)
    finally:
        disconnect(client)
    out = io.BytesIO()
    dump(settings, DumpOptions(root="/secure"), out)
    records = [(r.path, r.data) for r in StreamReader(io.BytesIO(out.getvalue()))]
    assert records == [("/secure", b""), ("/secure/a", b"over tls")]
    summary = restore(
        settings,
        lambda: contextlib.nullcontext(io.BytesIO(out.getvalue())),
        RestoreOptions(target_root="/copy"),
    )
    assert summary.created == 2


def test_untrusted_server_certificate_is_refused(tls_zookeeper, tmp_path):
    stranger = make_test_certificates(tmp_path / "stranger") / "ca.pem"
    settings = tls_settings(tls_zookeeper, tls_ca=str(stranger), timeout=3.0)
    with pytest.raises(DumpError, match="cannot connect to ZooKeeper"):
        dump(settings, DumpOptions(root="/"), io.BytesIO())
