"""The multiRead request (opcode 22, ZooKeeper >= 3.6), which kazoo 2.11 does not offer.

A multiRead carries getData and getChildren sub-requests; the server answers each one on its
own (a failed sub-request yields an error code, the others still succeed). kazoo sends any
object with `type`, `serialize()` and `deserialize()` through its private `client._call`, so
this module supplies that object; kazoo is pinned (requirements) because `_call` is private.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass

from kazoo.client import KazooClient
from kazoo.protocol.serialization import (
    int_struct,
    multiheader_struct,
    read_string,
    stat_struct,
    write_string,
)
from kazoo.protocol.states import ZnodeStat

MULTI_READ = 22
GET_DATA = 4
GET_CHILDREN = 8
ERROR = -1


@dataclass(frozen=True, slots=True)
class DataResult:
    """getData answer: the value (None when the node holds null) and its Stat."""

    data: bytes | None
    stat: ZnodeStat


@dataclass(frozen=True, slots=True)
class ErrorResult:
    """A failed sub-request: the ZooKeeper error code (e.g. -101 NoNode, -102 NoAuth)."""

    code: int


def _encode_op(op_type: int, path: str) -> bytes:
    # each sub-request: MultiHeader(type, done=false, err=-1) + path + watch=false
    return multiheader_struct.pack(op_type, False, -1) + write_string(path) + b"\x00"


_END = multiheader_struct.pack(-1, True, -1)


class MultiRead(namedtuple("MultiRead", "ops")):
    """ops: sequence of (GET_DATA | GET_CHILDREN, absolute server path)."""

    type = MULTI_READ

    def serialize(self) -> bytes:
        return b"".join(_encode_op(op_type, path) for op_type, path in self.ops) + _END

    @classmethod
    def deserialize(cls, buffer: bytes, offset: int) -> list:
        """Decode the reply: one DataResult / list[str] / ErrorResult per sub-request."""
        # the hot loop of every dump (one pass per node): struct calls are inlined rather
        # than going through kazoo's per-field helpers
        results: list = []
        append = results.append
        header = multiheader_struct.unpack_from
        length = int_struct.unpack_from
        stat_of = stat_struct.unpack_from
        head, stat_size, int_size = multiheader_struct.size, stat_struct.size, int_struct.size
        kind, done, _ = header(buffer, offset)
        offset += head
        while not done:
            if kind == GET_DATA:
                (size,) = length(buffer, offset)
                offset += int_size
                if size < 0:
                    data = None
                else:
                    data = buffer[offset : offset + size]
                    offset += size
                append(DataResult(data, ZnodeStat._make(stat_of(buffer, offset))))
                offset += stat_size
            elif kind == GET_CHILDREN:
                (count,) = length(buffer, offset)
                offset += int_size
                children = []
                for _ in range(max(count, 0)):
                    name, offset = read_string(buffer, offset)
                    children.append(name)
                append(children)
            elif kind == ERROR:
                append(ErrorResult(length(buffer, offset)[0]))
                offset += int_size
            else:
                raise ValueError(f"unexpected multiRead sub-response type {kind}")
            kind, done, _ = header(buffer, offset)
            offset += head
        return results


def server_path(client: KazooClient, path: str) -> str:
    """The path as the server sees it (chroot prefix applied), as kazoo's own calls do."""
    chroot = client.chroot or ""
    if path == "/":
        return chroot or "/"
    return chroot + path


def multi_read_async(client: KazooClient, ops: list[tuple[int, str]]):
    """Send one multiRead; returns kazoo's IAsyncResult whose value is the list of results.

    `ops` hold client paths (chroot-relative); the chroot is applied here.
    """
    request = MultiRead([(op_type, server_path(client, path)) for op_type, path in ops])
    async_result = client.handler.async_result()
    client._call(request, async_result)
    return async_result
