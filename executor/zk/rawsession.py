"""A bulk-read ZooKeeper session: many requests per send, replies parsed in the caller's thread.

kazoo sends one request per turn of its I/O loop (a select, a send and a wake-up byte each) and
parses replies in its own thread, so bulk reads through it are capped by per-request overhead
and by the two threads contending for the GIL. ZooKeeper answers pipelined requests in order at
far higher rates, so the dump opens extra sessions of this kind on plain sockets (TLS via
kazoo's own socket helper); each writes whole batches (multiRead, getACL) in one send and
parses the replies with kazoo's serializers in the same thread. It speaks only what a read-only
walk needs: connect, digest auth, sync, getACL, multiRead, close. SASL sessions use kazoo for
everything.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Callable

from kazoo.exceptions import ConnectionLoss
from kazoo.handlers.utils import create_tcp_connection
from kazoo.protocol.serialization import (
    Auth,
    Close,
    Connect,
    GetACL,
    Sync,
    reply_header_struct,
    write_string,
)
from kazoo.security import ACL

from executor.zk.connection import ZkConnectionSettings, normalize_hosts
from executor.zk.multiread import MULTI_READ, ErrorResult, MultiRead

Parser = Callable[[bytes, int], object]
Ticket = tuple[int, int, int]

_LENGTH = struct.Struct("!i")
_REQUEST_HEAD = struct.Struct("!ii")  # xid, opcode
AUTH_XID = -4
SYNC_XID = 1_000_000_000  # batch xids count up from 1 and never get near this one
CLOSE_XID = -11  # any xid works for closeSession; kazoo uses -11 too
SESSION_TIMEOUT_MS = 30_000
_STAT_SIZE = 68


def _parse_acl(frame: bytes, offset: int) -> list[ACL]:
    # trees share a handful of ACLs: decode each distinct wire form once (the reply is the
    # ACL vector followed by a fixed-size Stat)
    wire = frame[offset : len(frame) - _STAT_SIZE]
    acl = _ACL_CACHE.get(wire)
    if acl is None:
        acl = GetACL.deserialize(frame, offset)[0]
        if len(_ACL_CACHE) < 4096:
            _ACL_CACHE[wire] = acl
    return acl


_ACL_CACHE: dict[bytes, list[ACL]] = {}


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


class RawSession:
    """Pipelined reads on their own session (no auth or digest).

    `submit(requests)` writes a batch of requests in one send; `collect(ticket)` reads replies
    until that batch is complete, keeping replies of other batches for their own `collect`.
    Writing while replies are unread is safe: the server queues replies in memory and keeps
    reading requests (it throttles only on its outstanding-request count).
    """

    def __init__(self, settings: ZkConnectionSettings, first_host: int = 0):
        """`first_host` picks which listed server to try first, so several sessions spread
        over an ensemble (the others follow in order as fallbacks)."""
        self.settings = settings
        addresses, self.chroot = parse_hosts(settings.hosts)
        start = first_host % len(addresses)
        self.addresses = addresses[start:] + addresses[:start]
        self._sock: socket.socket | None = None
        self._buffer = bytearray()
        self._start = 0  # offset of the first unread byte in _buffer
        self._xid = 0
        self._generation = 0
        self._replies: dict[int, object] = {}
        self._parsers: dict[int, Parser] = {}
        self.last_zxid = 0

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
                self._start = 0
                self._handshake()
                break
            except (OSError, ConnectionLoss) as exc:
                last_error = exc
                self._drop()
        else:
            raise ConnectionLoss(f"read session could not connect: {last_error}")
        self._generation += 1
        self._replies.clear()
        self._parsers.clear()

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
                raise ConnectionLoss("read session: digest authentication was rejected")
        # catch up with the leader before reading, as the kazoo session did (sync is ordered
        # before every later request of this session)
        body = _REQUEST_HEAD.pack(SYNC_XID, Sync.type) + write_string(self.server_path("/"))
        self._sock.sendall(_LENGTH.pack(len(body)) + body)
        xid, _zxid, err = reply_header_struct.unpack_from(self._frame(), 0)
        if xid != SYNC_XID or err:
            raise ConnectionLoss("read session: sync failed")

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
        buffer = self._buffer
        while True:
            start = self._start
            if len(buffer) - start >= 4:
                (length,) = _LENGTH.unpack_from(buffer, start)
                end = start + 4 + length
                if len(buffer) >= end:
                    # move past the frame instead of deleting it: deleting the front of a
                    # 1 MiB buffer for each small reply copies the rest every time
                    self._start = end
                    return bytes(buffer[start + 4 : end])
            assert self._sock is not None
            del buffer[:start]
            self._start = 0
            chunk = self._sock.recv(1 << 20)
            if not chunk:
                raise ConnectionLoss("read session: the server closed the connection")
            buffer += chunk

    # ---- bulk calls ---------------------------------------------------------------------------
    def submit(self, requests: list[tuple[int, bytes, Parser]]) -> Ticket:
        """Send `(opcode, body, parse)` requests in one write; returns a ticket for `collect`.

        `parse(frame, offset)` decodes a successful reply body.
        """
        if self._sock is None:
            self._open()
        first = self._xid + 1
        payload = bytearray()
        for offset, (opcode, body, _parse) in enumerate(requests):
            payload += _LENGTH.pack(len(body) + 8)
            payload += _REQUEST_HEAD.pack(first + offset, opcode)
            payload += body
            self._parsers[first + offset] = _parse
        self._xid += len(requests)
        try:
            self._sock.sendall(payload)
        except OSError as exc:
            self._drop()
            raise ConnectionLoss(f"read session: {exc}") from exc
        return (self._generation, first, len(requests))

    def collect(self, ticket: Ticket) -> list:
        """Decoded replies of a submitted batch, in order; a failed request yields its
        ErrorResult. Raises kazoo's ConnectionLoss when the session broke (the next `submit`
        reconnects)."""
        generation, first, count = ticket
        if generation != self._generation or self._sock is None:
            raise ConnectionLoss("read session was reset")
        try:
            results = []
            for xid in range(first, first + count):
                while xid not in self._replies:
                    self._read_one()
                results.append(self._replies.pop(xid))
            return results
        except (OSError, struct.error) as exc:
            self._drop()
            raise ConnectionLoss(f"read session: {exc}") from exc
        except ConnectionLoss:
            self._drop()
            raise

    def _read_one(self) -> None:
        frame = self._frame()
        xid, zxid, err = reply_header_struct.unpack_from(frame, 0)
        if xid < 0:  # a ping or notification: not ours
            return
        self.last_zxid = max(self.last_zxid, zxid)
        parse = self._parsers.pop(xid, None)
        if err or parse is None:
            self._replies[xid] = ErrorResult(err)
        else:
            self._replies[xid] = parse(frame, reply_header_struct.size)

    # ---- request builders --------------------------------------------------------------------
    def get_acl_request(self, path: str) -> tuple[int, bytes, Parser]:
        return (GetACL.type, write_string(self.server_path(path)), _parse_acl)

    def multi_read_request(self, ops: list[tuple[int, str]]) -> tuple[int, bytes, Parser]:
        request = MultiRead([(op, self.server_path(path)) for op, path in ops])
        return (MULTI_READ, request.serialize(), MultiRead.deserialize)

    def server_path(self, path: str) -> str:
        if not self.chroot:
            return path
        return self.chroot if path == "/" else self.chroot + path
