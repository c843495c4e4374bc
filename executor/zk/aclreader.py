"""Bulk getACL over a dedicated ZooKeeper session.

multiRead cannot carry getACL, and kazoo sends one request per turn of its I/O loop (a select,
a send and a wake-up byte each), which caps pipelined get_acls_async at a few thousand per
second. ZooKeeper itself answers pipelined requests in order at far higher rates, so this
module opens a second session on a plain socket (TLS via kazoo's own socket helper), writes a
whole batch of getACL requests in one send and parses the replies with kazoo's serializers.
Sessions that need SASL use kazoo's pipelined get_acls_async instead (see `reader.py`).
"""

from __future__ import annotations

import contextlib
import socket
import struct

from kazoo.exceptions import EXCEPTIONS, ConnectionLoss, NoNodeError
from kazoo.handlers.utils import create_tcp_connection
from kazoo.protocol.serialization import (
    Auth,
    Close,
    Connect,
    GetACL,
    reply_header_struct,
    write_string,
)
from kazoo.security import ACL

from executor.zk.connection import ZkConnectionSettings, normalize_hosts

_LENGTH = struct.Struct("!i")
_REQUEST_HEAD = struct.Struct("!ii")  # xid, opcode
AUTH_XID = -4
CLOSE_XID = -11  # any xid works for closeSession; kazoo uses -11 too
SESSION_TIMEOUT_MS = 30_000


def parse_hosts(hosts: str) -> tuple[list[tuple[str, int]], str]:
    """`h:p,h:p/chroot` -> ([(h, p), ...], chroot or '')."""
    hosts = normalize_hosts(hosts)
    chroot = ""
    if "/" in hosts:
        hosts, chroot = hosts.split("/", 1)
        chroot = "/" + chroot.rstrip("/") if chroot.strip("/") else ""
    addresses = []
    for item in hosts.split(","):
        host, _, port = item.strip().rpartition(":")
        addresses.append((host or item.strip(), int(port) if port else 2181))
    return addresses, chroot


class RawAclReader:
    """Reads ACLs of many paths per round trip on its own session (digest or no auth).

    `submit(paths)` writes a batch of getACL requests in one send; `collect(ticket)` reads
    replies until that batch is complete, keeping replies of other batches for their own
    `collect`. Writing while replies are unread is safe: the server queues replies in memory
    and keeps reading requests (it throttles only on its outstanding-request count).
    """

    def __init__(self, settings: ZkConnectionSettings):
        self.settings = settings
        self.addresses, self.chroot = parse_hosts(settings.hosts)
        self._sock: socket.socket | None = None
        self._buffer = bytearray()
        self._xid = 0
        self._generation = 0
        self._replies: dict[int, list[ACL] | Exception | None] = {}

    # ---- session ------------------------------------------------------------------------
    def _open(self) -> None:
        last_error: Exception | None = None
        for address in self.addresses:
            try:
                self._sock = create_tcp_connection(
                    socket,
                    address,
                    timeout=self.settings.timeout,
                    use_ssl=self.settings.use_tls,
                    ca=self.settings.tls_ca,
                    certfile=self.settings.tls_cert,
                    keyfile=self.settings.tls_key,
                    verify_certs=self.settings.tls_ca is not None,
                )
                self._buffer = bytearray()
                self._handshake()
                break
            except (OSError, ConnectionLoss) as exc:
                last_error = exc
                self._drop()
        else:
            raise ConnectionLoss(f"ACL session could not connect: {last_error}")
        self._generation += 1
        self._replies.clear()

    def _handshake(self) -> None:
        connect = Connect(0, 0, SESSION_TIMEOUT_MS, 0, b"\x00" * 16, False).serialize()
        self._sock.sendall(_LENGTH.pack(len(connect)) + connect)
        self._frame()  # ConnectResponse; a refused session closes the socket instead
        if self.settings.auth == "digest":
            auth = f"{self.settings.username}:{self.settings.password}"
            body = _REQUEST_HEAD.pack(AUTH_XID, Auth.type) + Auth(0, "digest", auth).serialize()
            self._sock.sendall(_LENGTH.pack(len(body)) + body)
            xid, _zxid, err = reply_header_struct.unpack_from(self._frame(), 0)
            if xid != AUTH_XID or err:
                raise ConnectionLoss("ACL session: digest authentication was rejected")

    def _drop(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def close(self) -> None:
        """End the session (closeSession) and the socket."""
        if self._sock is not None:
            body = _REQUEST_HEAD.pack(CLOSE_XID, Close.type)
            with contextlib.suppress(OSError):
                self._sock.sendall(_LENGTH.pack(len(body)) + body)
        self._drop()

    # ---- framing ----------------------------------------------------------------------------
    def _frame(self) -> bytes:
        """The next length-prefixed reply frame."""
        while True:
            if len(self._buffer) >= 4:
                (length,) = _LENGTH.unpack_from(self._buffer, 0)
                if len(self._buffer) >= 4 + length:
                    frame = bytes(self._buffer[4 : 4 + length])
                    del self._buffer[: 4 + length]
                    return frame
            assert self._sock is not None
            chunk = self._sock.recv(1 << 20)
            if not chunk:
                raise ConnectionLoss("ACL session: the server closed the connection")
            self._buffer += chunk

    # ---- bulk calls ---------------------------------------------------------------------------
    def submit(self, paths: list[str]) -> tuple[int, int, int]:
        """Queue getACL for `paths`; returns a ticket for `collect`."""
        if self._sock is None:
            self._open()
        first = self._xid + 1
        requests = bytearray()
        for offset, path in enumerate(paths):
            body = write_string(self._server_path(path))
            requests += _LENGTH.pack(len(body) + 8)
            requests += _REQUEST_HEAD.pack(first + offset, GetACL.type)
            requests += body
        self._xid += len(paths)
        try:
            self._sock.sendall(requests)
        except OSError as exc:
            self._drop()
            raise ConnectionLoss(f"ACL session: {exc}") from exc
        return (self._generation, first, len(paths))

    def collect(self, ticket: tuple[int, int, int]) -> list[list[ACL] | None]:
        """ACL of each submitted path (None when the node does not exist), in order.

        Raises kazoo's ConnectionLoss when the session broke; the next submit reconnects.
        """
        generation, first, count = ticket
        if generation != self._generation or self._sock is None:
            raise ConnectionLoss("ACL session was reset")
        try:
            results = []
            for xid in range(first, first + count):
                while xid not in self._replies:
                    self._read_one()
                result = self._replies.pop(xid)
                if isinstance(result, Exception):
                    raise result
                results.append(result)
            return results
        except (OSError, struct.error) as exc:
            self._drop()
            raise ConnectionLoss(f"ACL session: {exc}") from exc
        except ConnectionLoss:
            self._drop()
            raise

    def get_acls(self, paths: list[str]) -> list[list[ACL] | None]:
        """Submit and collect in one call."""
        return self.collect(self.submit(paths)) if paths else []

    def _read_one(self) -> None:
        frame = self._frame()
        xid, _zxid, err = reply_header_struct.unpack_from(frame, 0)
        if xid < 0:  # a ping or notification: not ours
            return
        if err == NoNodeError.code:
            self._replies[xid] = None
        elif err:
            self._replies[xid] = EXCEPTIONS[err]()
        else:
            self._replies[xid] = GetACL.deserialize(frame, reply_header_struct.size)[0]

    def _server_path(self, path: str) -> str:
        if not self.chroot:
            return path
        return self.chroot if path == "/" else self.chroot + path
