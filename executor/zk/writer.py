"""Batched writes: `multi` transactions sized in bytes under jute.maxbuffer, several in flight.

The server rejects any request larger than jute.maxbuffer (1,048,575 B by default) with "Len
error" and drops the connection, failing every other request in flight. So each operation's
wire size is computed up front and batches stay below `batch_bytes`; an operation too large
for a batch of its own is sent as a plain (non-multi) request, and a create too large even for
that is split into an empty create followed by setData.
"""

from __future__ import annotations

import functools
import struct
from collections import deque, namedtuple
from collections.abc import Callable
from typing import NamedTuple

from kazoo.client import KazooClient
from kazoo.exceptions import (
    ConnectionLoss,
    KazooException,
    NodeExistsError,
    NoNodeError,
    RolledBackError,
    SessionExpiredError,
)
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.serialization import Transaction, multiheader_struct
from kazoo.security import ACL

from executor.zk.multiread import server_path

JUTE_MAXBUFFER = 1_048_575
REQUEST_OVERHEAD = 64  # length prefix, request header, multi end marker, slack


def _string(text: str) -> bytes:
    raw = text.encode()
    return _INT.pack(len(raw)) + raw


@functools.lru_cache(maxsize=4096)
def _acl_wire(acl: tuple[ACL, ...]) -> bytes:
    # trees share a handful of ACLs: encode each distinct one once
    parts = [_INT.pack(len(acl))]
    for entry in acl:
        parts += [_INT.pack(entry.perms), _string(entry.id.scheme), _string(entry.id.id)]
    return b"".join(parts)


def create_size(path: str, data: bytes, acl: list[ACL]) -> int:
    """Wire bytes of a create request body (what a plain create sends after its header)."""
    return len(_string(path)) + 4 + len(data) + len(_acl_wire(tuple(acl))) + 4


class Op(NamedTuple):
    """One write: kind "create", "set" or "delete", with its encoded multi sub-request."""

    kind: str
    path: str
    data: bytes
    acl: tuple[ACL, ...]
    wire: bytes  # MultiHeader + body, exactly as sent inside a multi

    @property
    def size(self) -> int:
        return len(self.wire)


def create_op(path: str, data: bytes, acl: tuple[ACL, ...], server_path: str) -> Op:
    body = _string(server_path) + _INT.pack(len(data)) + data + _acl_wire(acl) + _ZERO
    return Op("create", path, data, acl, _CREATE_HEAD + body)


def set_op(path: str, data: bytes, server_path: str) -> Op:
    body = _string(server_path) + _INT.pack(len(data)) + data + _ANY_VERSION
    return Op("set", path, data, (), _SET_HEAD + body)


def delete_op(path: str, server_path: str) -> Op:
    return Op("delete", path, b"", (), _DELETE_HEAD + _string(server_path) + _ANY_VERSION)


_INT = struct.Struct("!i")
_ZERO = _INT.pack(0)
_ANY_VERSION = _INT.pack(-1)
_CREATE_HEAD = multiheader_struct.pack(1, False, -1)
_DELETE_HEAD = multiheader_struct.pack(2, False, -1)
_SET_HEAD = multiheader_struct.pack(5, False, -1)
_MULTI_END = multiheader_struct.pack(-1, True, -1)


class _Multi(namedtuple("_Multi", "ops")):
    """A multi request built from pre-encoded sub-requests (sent via kazoo's `_call`, like
    kazoo's own Transaction, minus its per-operation Python overhead)."""

    type = Transaction.type

    def serialize(self) -> bytes:
        return b"".join(op.wire for op in self.ops) + _MULTI_END

    @classmethod
    def deserialize(cls, buffer: bytes, offset: int) -> list:
        return Transaction.deserialize(buffer, offset)


class WriteFailed(Exception):
    """A single operation failed for a reason other than the ones the caller tolerates."""

    def __init__(self, op: Op, error: Exception):
        super().__init__(f"{op.kind} {op.path}: {type(error).__name__}")
        self.op = op
        self.error = error


OnConflict = Callable[[Op, Exception], None]


class BatchWriter:
    """Queues operations in order and commits them in byte-sized multi batches.

    Operations of one session are applied in the order sent, so a child queued after its
    parent is created after it even when their batches are in flight together. A failed batch
    (all-or-nothing) is bisected down to the failing operation, which goes to `on_conflict`
    (NodeExists on create, NoNode on delete/set are the expected ones); anything else raises.
    """

    def __init__(
        self,
        client: KazooClient,
        batch_bytes: int,
        in_flight: int,
        on_conflict: OnConflict,
        timeout: float = 60.0,
    ):
        self.client = client
        self.batch_bytes = min(batch_bytes, JUTE_MAXBUFFER - REQUEST_OVERHEAD)
        self.in_flight = max(1, in_flight)
        self.on_conflict = on_conflict
        self.timeout = timeout
        self._ops: list[Op] = []
        self._bytes = 0
        self._pending: deque[tuple[list[Op], object]] = deque()

    def create(self, path: str, data: bytes, acl: tuple[ACL, ...]) -> None:
        """Queue a create of `path` (client path) with its ACL."""
        self.add(create_op(path, data, acl, server_path(self.client, path)))

    def set(self, path: str, data: bytes) -> None:
        """Queue a setData (any version)."""
        self.add(set_op(path, data, server_path(self.client, path)))

    def delete(self, path: str) -> None:
        """Queue a delete (any version)."""
        self.add(delete_op(path, server_path(self.client, path)))

    def add(self, op: Op) -> None:
        """Queue one operation (sent once its batch is full)."""
        if op.size > self.batch_bytes:
            self.flush()
            self.drain()
            self._alone(op)
            return
        if self._bytes + op.size > self.batch_bytes:
            self.flush()
        self._ops.append(op)
        self._bytes += op.size

    def flush(self) -> None:
        """Send the queued operations as one multi (waits when the window is full)."""
        if not self._ops:
            return
        ops, self._ops, self._bytes = self._ops, [], 0
        while len(self._pending) >= self.in_flight:
            self._complete_oldest()
        self._pending.append((ops, self._commit_async(ops)))

    def drain(self) -> None:
        """Wait for every batch in flight (and resolve their conflicts)."""
        while self._pending:
            self._complete_oldest()

    def close(self) -> None:
        self.flush()
        self.drain()

    # ---- internals ------------------------------------------------------------------------
    def _commit_async(self, ops: list[Op]):
        async_result = self.client.handler.async_result()
        self.client._call(_Multi(ops), async_result)
        return async_result

    def _commit(self, ops: list[Op]) -> list:
        return self.client.retry(lambda: self._commit_async(ops).get(timeout=self.timeout))

    def _complete_oldest(self) -> None:
        ops, async_result = self._pending.popleft()
        try:
            results = async_result.get(timeout=self.timeout)
        except (ConnectionLoss, SessionExpiredError, KazooTimeoutError):
            # the batch may or may not have been applied (a multi is all-or-nothing). If it
            # was, replaying it would conflict on every operation and the bisection would
            # cost two round trips per operation (seconds per batch after a leader failover)
            if not self._already_applied(ops):
                self._bisect(ops)
            return
        if any(isinstance(r, Exception) for r in results):
            self._bisect(ops)

    def _already_applied(self, ops: list[Op]) -> bool:
        """True when every operation of a batch whose answer was lost has its effect already:
        each created or set node holds the batch's value. Batches with deletes are never
        judged this way (a create/delete pair leaves no trace to look at)."""
        if any(op.kind == "delete" for op in ops):
            return False
        current = self.client.retry(self._current_data, [op.path for op in ops])
        return all(data == op.data for data, op in zip(current, ops, strict=True))

    def _current_data(self, paths: list[str]) -> list[bytes | None]:
        started = [self.client.get_async(path) for path in paths]
        values: list[bytes | None] = []
        for async_result in started:
            try:
                values.append(async_result.get(timeout=self.timeout)[0] or b"")
            except NoNodeError:
                values.append(None)
        return values

    def _bisect(self, ops: list[Op]) -> None:
        if len(ops) == 1:
            self._alone(ops[0])
            return
        results = self._commit(ops)
        if not any(isinstance(r, Exception) for r in results):
            return
        middle = len(ops) // 2
        self._bisect(ops[:middle])
        self._bisect(ops[middle:])

    def _alone(self, op: Op) -> None:
        try:
            self._single(op)
        except (NodeExistsError, NoNodeError) as exc:
            self.on_conflict(op, exc)
        except RolledBackError as exc:  # cannot happen for a single op; keep the error clear
            raise WriteFailed(op, exc) from exc
        except KazooException as exc:
            raise WriteFailed(op, exc) from exc

    def _single(self, op: Op) -> None:
        client = self.client
        if op.kind == "delete":
            client.retry(client.delete, op.path)
        elif op.kind == "set":
            client.retry(client.set, op.path, op.data)
        elif create_size(op.path, op.data, list(op.acl)) + REQUEST_OVERHEAD <= JUTE_MAXBUFFER:
            client.retry(client.create, op.path, op.data, acl=list(op.acl))
        else:
            # the create itself would exceed jute.maxbuffer: create empty, then set the value
            client.retry(client.create, op.path, b"", acl=list(op.acl))
            client.retry(client.set, op.path, op.data)
