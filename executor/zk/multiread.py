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
    MultiHeader,
    int_struct,
    multiheader_struct,
    read_buffer,
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
        results: list = []
        header, offset = MultiHeader.deserialize(buffer, offset)
        while not header.done:
            if header.type == GET_DATA:
                data, offset = read_buffer(buffer, offset)
                stat = ZnodeStat._make(stat_struct.unpack_from(buffer, offset))
                offset += stat_struct.size
                results.append(DataResult(data, stat))
            elif header.type == GET_CHILDREN:
                count = int_struct.unpack_from(buffer, offset)[0]
                offset += int_struct.size
                children = []
                for _ in range(max(count, 0)):
                    name, offset = read_string(buffer, offset)
                    children.append(name)
                results.append(children)
            elif header.type == ERROR:
                code = int_struct.unpack_from(buffer, offset)[0]
                offset += int_struct.size
                results.append(ErrorResult(code))
            else:
                raise ValueError(f"unexpected multiRead sub-response type {header.type}")
            header, offset = MultiHeader.deserialize(buffer, offset)
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
