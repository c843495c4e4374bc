"""Byte-sized multi batches: conflicts are isolated by bisection, sizes stay under the limit."""

from __future__ import annotations

from kazoo.exceptions import ConnectionLoss, NodeExistsError
from kazoo.security import OPEN_ACL_UNSAFE

from executor.zk.writer import JUTE_MAXBUFFER, REQUEST_OVERHEAD, BatchWriter, create_size


def test_batch_with_one_existing_node_creates_the_others(zk_client, zk_root):
    zk_client.create(zk_root + "/n3", b"already here", makepath=True)
    conflicts: list[tuple[str, type]] = []
    writer = BatchWriter(
        zk_client, 512 * 1024, 4, lambda op, error: conflicts.append((op.path, type(error)))
    )
    for i in range(8):
        writer.create(f"{zk_root}/n{i}", b"new", tuple(OPEN_ACL_UNSAFE))
    writer.close()
    assert conflicts == [(zk_root + "/n3", NodeExistsError)]
    assert sorted(zk_client.get_children(zk_root)) == [f"n{i}" for i in range(8)]
    assert zk_client.get(zk_root + "/n3")[0] == b"already here"


def test_batches_never_exceed_the_request_limit(zk_client, zk_root):
    zk_client.create(zk_root)
    writer = BatchWriter(zk_client, 4 * 1024 * 1024, 4, lambda op, error: None)
    value = b"v" * 400_000  # three of these would pass jute.maxbuffer in one multi
    for i in range(3):
        writer.create(f"{zk_root}/v{i}", value, tuple(OPEN_ACL_UNSAFE))
    writer.close()
    assert writer.batch_bytes <= JUTE_MAXBUFFER - REQUEST_OVERHEAD
    assert all(zk_client.get(f"{zk_root}/v{i}")[0] == value for i in range(3))


def test_create_too_large_for_one_request_becomes_create_then_set(zk_client, zk_root):
    zk_client.create(zk_root)
    path = zk_root + "/big"
    acl = tuple(OPEN_ACL_UNSAFE)
    # one byte more than a create request may carry; the setData alone still fits
    size = JUTE_MAXBUFFER + 1 - REQUEST_OVERHEAD - create_size(path, b"", list(acl))
    value = b"x" * size
    writer = BatchWriter(zk_client, 512 * 1024, 4, lambda op, error: None)
    writer.create(path, value, acl)
    writer.close()
    data, stat = zk_client.get(path)
    assert data == value
    assert stat.version == 1  # created empty, then given its value


class LostAnswerWriter(BatchWriter):
    """Sends its first multi for real but reports ConnectionLoss, as when the connection drops
    between the server's commit and its answer (a leader failover mid-restore);
    `apply_first=False` drops the first request before the server sees it instead."""

    def __init__(self, *args, apply_first: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.apply_first = apply_first
        self.lost = False

    def _commit_async(self, ops):
        if self.lost:
            return super()._commit_async(ops)
        self.lost = True
        if self.apply_first:
            super()._commit_async(ops).get(timeout=10)
        answer = self.client.handler.async_result()
        answer.set_exception(ConnectionLoss("connection dropped before the answer"))
        return answer


def test_a_batch_applied_before_its_answer_was_lost_is_not_replayed(zk_client, zk_root):
    zk_client.create(zk_root)
    conflicts: list[str] = []
    writer = LostAnswerWriter(
        zk_client, 512 * 1024, 4, lambda op, error: conflicts.append(op.path), apply_first=True
    )
    for i in range(50):
        writer.create(f"{zk_root}/n{i:02d}", f"value {i}".encode(), tuple(OPEN_ACL_UNSAFE))
    writer.close()
    assert conflicts == []  # not 50 NodeExists "conflicts" found by replaying the batch
    assert zk_client.get(f"{zk_root}/n49")[0] == b"value 49"


def test_a_batch_lost_before_the_server_saw_it_is_sent_again(zk_client, zk_root):
    zk_client.create(zk_root)
    conflicts: list[str] = []
    writer = LostAnswerWriter(
        zk_client, 512 * 1024, 4, lambda op, error: conflicts.append(op.path), apply_first=False
    )
    for i in range(50):
        writer.create(f"{zk_root}/n{i:02d}", f"value {i}".encode(), tuple(OPEN_ACL_UNSAFE))
    writer.close()
    assert conflicts == []
    assert len(zk_client.get_children(zk_root)) == 50
