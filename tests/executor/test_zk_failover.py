"""Leader failure during a dump on a 3-node ensemble: the dump either completes with every
node or fails with DumpError; it never yields a partial stream that verifies."""

from __future__ import annotations

import io

from executor.dump import DumpError, DumpOptions, dump
from executor.stream import StreamError, StreamReader, verify
from executor.zk.connection import ZkConnectionSettings
from tests.infra.zookeeper import SUPER_PASSWORD, SUPER_USER
from tests.infra.zookeeper_fixtures import super_client

PARENTS, CHILDREN = 40, 250


def seed(hosts: str, root: str) -> set[str]:
    client = super_client(hosts)
    try:
        client.create(root)
        expected = {root}
        for p in range(PARENTS):
            transaction = client.transaction()
            parent = f"{root}/p{p:03d}"
            transaction.create(parent, b"")
            expected.add(parent)
            for c in range(CHILDREN):
                transaction.create(f"{parent}/c{c:03d}", b"x" * 50)
                expected.add(f"{parent}/c{c:03d}")
            transaction.commit()
        return expected
    finally:
        client.stop()
        client.close()


def test_leader_killed_mid_dump_gives_complete_stream_or_dump_error(zookeeper_ensemble, zk_root):
    expected = seed(zookeeper_ensemble.hosts, zk_root)
    settings = ZkConnectionSettings(
        zookeeper_ensemble.hosts, "digest", SUPER_USER, SUPER_PASSWORD, timeout=10.0
    )
    killed: list[int] = []

    def kill_leader_once(count: int) -> None:
        if not killed and count >= 1000:
            killed.append(zookeeper_ensemble.leader())
            zookeeper_ensemble.kill(killed[0])

    out = io.BytesIO()
    options = DumpOptions(root=zk_root, batch_bytes=8 * 1024, in_flight=2)
    try:
        try:
            dump(settings, options, out, progress=kill_leader_once)
        except DumpError:
            try:
                verify(io.BytesIO(out.getvalue()))
            except StreamError:
                return  # failed loudly, and what was written is not a valid backup
            raise AssertionError("DumpError raised but the partial stream verifies") from None
        paths = {r.path for r in StreamReader(io.BytesIO(out.getvalue()))}
        assert paths == expected
        assert killed, "the leader was never killed: the dump finished too quickly"
    finally:
        if killed:
            zookeeper_ensemble.start(killed[0])
