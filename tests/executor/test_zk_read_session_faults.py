"""Bulk reads survive a read session whose connection breaks between two batches (a member
killed or restarted): the batch is sent again on a new connection, nothing is dropped."""

from __future__ import annotations

import socket

from kazoo.client import KazooClient

from executor.zk.connection import ZkConnectionSettings
from executor.zk.rawsession import RawSession
from executor.zk.reader import NodeReader, ReaderSettings


def test_a_batch_sent_on_a_broken_read_session_is_read_again_on_a_new_connection(
    zk_client: KazooClient, zk_settings: ZkConnectionSettings, zk_root: str
) -> None:
    paths = [f"{zk_root}/n{i}" for i in range(20)]
    for path in paths:
        zk_client.create(path, path.encode(), makepath=True)
    session = RawSession(zk_settings)
    try:
        reader = NodeReader(zk_client, "multiread", ReaderSettings(), [session])
        assert [n.path for n in reader.read(paths[:10]) if n] == paths[:10]
        # the connection dies between batches: the next send fails at once
        session._sock.shutdown(socket.SHUT_RDWR)
        nodes = reader.read(paths)
        assert [(n.path, n.data) for n in nodes if n] == [(p, p.encode()) for p in paths]
    finally:
        session.close()
