"""The zkstash dump stream (format 1): write, read and verify. Specified in docs/format.md.

Layout: an 8-byte magic and a 2-byte format version, then records `kind(1) length(4) body`:
one header (`H`, JSON), node records (`N`, binary) in path pre-order, and one trailer (`T`,
JSON) holding the node count, the byte count and the SHA-256 of everything before the trailer.
Everything before the trailer is a function of the tree alone (run-specific values such as the
zxid window live in the trailer), so identical trees give identical bytes and restic dedups them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, NamedTuple

MAGIC = b"ZKSTASH\x00"
FORMAT_VERSION = 1
KIND_HEADER = ord("H")
KIND_NODE = ord("N")
KIND_TRAILER = ord("T")
FLAG_EPHEMERAL = 1
FLAG_ACL_REDACTED = 2

_PREAMBLE = MAGIC + struct.pack(">H", FORMAT_VERSION)
_RECORD_HEAD = struct.Struct(">BI")
_STAT = struct.Struct(">qqqqiiiqiiq")  # jute order: czxid mzxid ctime mtime version cversion
#                                        aversion ephemeralOwner dataLength numChildren pzxid
_NODE_FIXED = struct.Struct(">BiHI")  # flags, sequence counter, ACL entries, ACL bytes
_STAT_AND_FIXED = struct.Struct(">qqqqiiiqiiqBiHI")
_U32 = struct.Struct(">I")
_I32 = struct.Struct(">i")
_NULL = _I32.pack(-1)
_ACL_ENTRY = struct.Struct(">iHH")  # perms, len(scheme), len(id)
TRAILER_CHECK = "trailerSha256"
TRAILER_KEYS = frozenset(
    ("znodes", "bytes", "sha256", "zxidStart", "zxidEnd", "redactedAcls", "ephemeral")
) | {TRAILER_CHECK}
MAX_JSON_RECORD = 1 << 20
MAX_NAMED_PATHS = 5
READ_CHUNK = 1 << 20
WRITE_CHUNK = 1 << 20


class StreamError(Exception):
    """The input is not a complete, intact zkstash stream (the message says why)."""


class AclEntry(NamedTuple):
    """One ACL entry: permission bits, scheme and id (e.g. 31, "digest", "app:hash=")."""

    perms: int
    scheme: str
    id: str


class NodeRecord(NamedTuple):
    """One znode as stored: path, data (None = null), Stat tuple, ACL, counter, flags."""

    path: str
    data: bytes | None
    stat: tuple[int, ...]
    acl: tuple[AclEntry, ...]
    sequence: int
    flags: int = 0

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & FLAG_EPHEMERAL)

    @property
    def num_children(self) -> int:
        return self.stat[9]


@dataclass(frozen=True)
class StreamHeader:
    """The header's fields: root of the dump, server version, filters (nothing run-specific)."""

    root: str
    server_version: str = ""
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    include_ephemeral: bool = False
    include_system: bool = False

    def to_json(self) -> dict:
        return {
            "format": FORMAT_VERSION,
            "root": self.root,
            "serverVersion": self.server_version,
            "include": list(self.include),
            "exclude": list(self.exclude),
            "includeEphemeral": self.include_ephemeral,
            "includeSystem": self.include_system,
        }

    @classmethod
    def from_json(cls, obj: dict) -> StreamHeader:
        try:
            return cls(
                root=str(obj["root"]),
                server_version=str(obj.get("serverVersion", "")),
                include=tuple(obj.get("include", ())),
                exclude=tuple(obj.get("exclude", ())),
                include_ephemeral=bool(obj.get("includeEphemeral", False)),
                include_system=bool(obj.get("includeSystem", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StreamError(f"header record is malformed: {exc}") from exc


@dataclass(frozen=True)
class StreamSummary:
    """What a verified stream holds; `sha256` covers every byte before the trailer."""

    format: int
    header: StreamHeader
    znodes: int
    bytes: int
    sha256: str
    zxid_start: int
    zxid_end: int
    redacted_acls: int = 0
    ephemeral: int = 0
    redacted_paths: tuple[str, ...] = ()  # the first few nodes with a redacted ACL
    extra: dict = field(default_factory=dict)


def path_key(path: str) -> tuple[str, ...]:
    """Sort key giving pre-order (a parent directly before its subtree, siblings by name)."""
    return () if path == "/" else tuple(path[1:].split("/"))


def _json_bytes(obj: dict) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def trailer_check(trailer: dict) -> str:
    """SHA-256 (hex) of the trailer's other fields: the stream checksum cannot cover the
    trailer itself, and a flipped digit in the zxid window would otherwise go unnoticed."""
    return hashlib.sha256(
        _json_bytes({k: v for k, v in trailer.items() if k != TRAILER_CHECK})
    ).hexdigest()


TRAILER_SEARCH = 4096  # bytes from the end that hold the trailer record (a few hundred)


def ends_with_trailer(tail: bytes, size: int) -> bool:
    """True when `tail`, the last bytes of a `size`-byte stream, ends with an intact trailer
    record that starts where its byte count says. Only a complete stream ends so; one cut
    anywhere cannot. The stream gate's check before restic may commit (`stream_gate`);
    `verify` checks every byte."""
    lowest = max(len(tail) - TRAILER_SEARCH, 0)
    for start in range(len(tail) - _RECORD_HEAD.size, lowest - 1, -1):
        kind, length = _RECORD_HEAD.unpack_from(tail, start)
        if kind != KIND_TRAILER or length != len(tail) - start - _RECORD_HEAD.size:
            continue
        try:
            trailer = json.loads(tail[start + _RECORD_HEAD.size :])
        except ValueError:
            continue
        if (
            isinstance(trailer, dict)
            and set(trailer) == TRAILER_KEYS
            and trailer[TRAILER_CHECK] == trailer_check(trailer)
            and trailer["bytes"] == size - (len(tail) - start)
        ):
            return True
    return False


def _short(text: str) -> bytes:
    raw = text.encode()
    if len(raw) > 0xFFFF:
        raise ValueError(f"ACL field longer than 65535 bytes: {text[:40]!r}…")
    return raw


@functools.lru_cache(maxsize=4096)
def _encode_acl(acl: tuple[AclEntry, ...]) -> bytes:
    # trees share a handful of ACLs, so each distinct one is encoded once
    parts = []
    for entry in acl:
        scheme, ident = _short(entry.scheme), _short(entry.id)
        parts += [_ACL_ENTRY.pack(entry.perms, len(scheme), len(ident)), scheme, ident]
    return b"".join(parts)


def encode_node(record: NodeRecord) -> bytes:
    """The body of one `N` record."""
    path = record.path.encode()
    data = record.data
    acl = _encode_acl(record.acl)
    return b"".join(
        (
            _U32.pack(len(path)),
            path,
            _STAT.pack(*record.stat),
            _NODE_FIXED.pack(record.flags, record.sequence, len(record.acl), len(acl)),
            acl,
            _NULL if data is None else _I32.pack(len(data)),
            data or b"",
        )
    )


def _decode_acl(wire: bytes, count: int) -> tuple[AclEntry, ...]:
    acl = _ACL_CACHE.get(wire)
    if acl is not None:
        return acl
    entries, offset = [], 0
    for _ in range(count):
        perms, scheme_len, id_len = _ACL_ENTRY.unpack_from(wire, offset)
        offset += _ACL_ENTRY.size
        scheme = wire[offset : offset + scheme_len].decode()
        offset += scheme_len
        ident = wire[offset : offset + id_len].decode()
        offset += id_len
        entries.append(AclEntry(perms, scheme, ident))
    if offset != len(wire):
        raise StreamError("malformed node record: ACL length does not match its entries")
    acl = tuple(entries)
    if len(_ACL_CACHE) < 4096:  # trees share a handful of ACLs: decode each one once
        _ACL_CACHE[wire] = acl
    return acl


_ACL_CACHE: dict[bytes, tuple[AclEntry, ...]] = {}


def _decode_path(body: bytes) -> tuple[str, int]:
    (path_len,) = _U32.unpack_from(body, 0)
    if len(body) < 4 + path_len:
        raise StreamError("malformed node record: path runs past the record")
    path = body[4 : 4 + path_len].decode()
    if not path.startswith("/") or (path != "/" and path.endswith("/")):
        raise StreamError(f"malformed node record: invalid path {path!r}")
    return path, 4 + path_len


def decode_node(body: bytes) -> NodeRecord:
    """Parse one `N` record body (StreamError when it is malformed)."""
    try:
        path, offset = _decode_path(body)
        *stat, flags, sequence, acl_count, acl_len = _STAT_AND_FIXED.unpack_from(body, offset)
        offset += _STAT_AND_FIXED.size
        acl = _decode_acl(body[offset : offset + acl_len], acl_count)
        offset += acl_len
        (data_len,) = _I32.unpack_from(body, offset)
        offset += 4
    except (struct.error, UnicodeDecodeError) as exc:
        raise StreamError(f"malformed node record: {exc}") from exc
    if offset + max(data_len, 0) != len(body):
        raise StreamError("malformed node record: length does not match its fields")
    data = None if data_len < 0 else body[offset:]
    return NodeRecord(path, data, tuple(stat), acl, sequence, flags)


def node_path_and_flags(body: bytes) -> tuple[str, int]:
    """Only the path and flags of an `N` record body (for checks that need nothing else)."""
    try:
        path, offset = _decode_path(body)
    except (struct.error, UnicodeDecodeError) as exc:
        raise StreamError(f"malformed node record: {exc}") from exc
    if len(body) < offset + _STAT_AND_FIXED.size + 4:
        raise StreamError("malformed node record: too short")
    return path, body[offset + _STAT.size]


class StreamWriter:
    """Writes a stream to a binary file object, hashing and counting as it goes."""

    def __init__(self, out: BinaryIO, header: StreamHeader):
        self._out = out
        self._pending = bytearray()  # written in ~1 MB chunks: fewer write and hash calls
        self._hash = hashlib.sha256()
        self.bytes = 0
        self.znodes = 0
        self.redacted_acls = 0
        self.ephemeral = 0
        self._last_key: tuple[str, ...] | None = None
        self._emit(_PREAMBLE)
        self._record(KIND_HEADER, _json_bytes(header.to_json()))

    def _emit(self, chunk: bytes) -> None:
        self._pending += chunk
        self.bytes += len(chunk)
        if len(self._pending) >= WRITE_CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._hash.update(self._pending)
            self._out.write(self._pending)
            self._pending = bytearray()

    def _record(self, kind: int, body: bytes) -> None:
        self._emit(_RECORD_HEAD.pack(kind, len(body)) + body)

    def node(self, record: NodeRecord) -> None:
        """Append one node; nodes must come in pre-order (`path_key` strictly increasing)."""
        key = path_key(record.path)
        if self._last_key is not None and key <= self._last_key:
            raise ValueError(f"node {record.path!r} written out of order")
        self._last_key = key
        self._record(KIND_NODE, encode_node(record))
        self.znodes += 1
        self.redacted_acls += bool(record.flags & FLAG_ACL_REDACTED)
        self.ephemeral += record.ephemeral

    def finish(self, zxid_start: int, zxid_end: int) -> str:
        """Write the trailer; returns the SHA-256 (hex) of all bytes before it."""
        self._flush()
        digest = self._hash.hexdigest()
        trailer = {
            "znodes": self.znodes,
            "bytes": self.bytes,
            "sha256": digest,
            "zxidStart": zxid_start,
            "zxidEnd": zxid_end,
            "redactedAcls": self.redacted_acls,
            "ephemeral": self.ephemeral,
        }
        trailer[TRAILER_CHECK] = trailer_check(trailer)
        body = _json_bytes(trailer)
        chunk = _RECORD_HEAD.pack(KIND_TRAILER, len(body)) + body
        self._out.write(chunk)
        self.bytes += len(chunk)
        return digest


class _Input:
    """Buffered reads with exact-length semantics; hashes what it consumes in large chunks
    (everything up to the point `stop_hashing` is called)."""

    def __init__(self, inp: BinaryIO):
        self._inp = inp
        self._buf = bytearray()
        self._pos = 0
        self._hashed = 0  # buffer offset up to which bytes went into the hash
        self._hashing = True
        self.hash = hashlib.sha256()
        self.consumed = 0

    def _fill(self, need: int) -> bool:
        while len(self._buf) - self._pos < need:
            chunk = self._inp.read(READ_CHUNK)
            if not chunk:
                return False
            if self._pos:
                self._hash_upto(self._pos)
                del self._buf[: self._pos]
                self._hashed -= self._pos
                self._pos = 0
            self._buf += chunk
        return True

    def _hash_upto(self, offset: int) -> None:
        if self._hashing and offset > self._hashed:
            self.hash.update(memoryview(self._buf)[self._hashed : offset])
            self._hashed = offset

    def stop_hashing(self, back: int) -> None:
        """Hash everything consumed except the last `back` bytes, then stop hashing."""
        self._hash_upto(self._pos - back)
        self._hashing = False

    def take(self, size: int, what: str) -> bytes:
        if not self._fill(size):
            raise StreamError(f"stream is truncated (ended inside the {what})")
        chunk = bytes(self._buf[self._pos : self._pos + size])
        self._pos += size
        self.consumed += size
        return chunk

    def at_end(self) -> bool:
        return not self._fill(1)

    def peek(self, size: int) -> bytes:
        """Up to `size` bytes ahead, not consumed (fewer at the end of the input)."""
        self._fill(size)
        return bytes(self._buf[self._pos : self._pos + size])


# Leading bytes of what is most often handed over by mistake, to name it in the error.
_FOREIGN_MAGIC = (
    (b"\x1f\x8b", "gzip data"),
    (b"PK\x03\x04", "a zip archive"),
    (b"{", "JSON, e.g. a zk-shell dump"),
    (b"[", "JSON"),
)


def _looks_like(start: bytes) -> str:
    for magic, what in _FOREIGN_MAGIC:
        if start.startswith(magic):
            return f"; it looks like {what}"
    return ""


def _read_json(body: bytes, what: str) -> dict:
    try:
        obj = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StreamError(f"{what} record is not valid JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise StreamError(f"{what} record is not a JSON object")
    return obj


class StreamReader:
    """Iterates a stream's node records, checking structure and order as it goes.

    After the iteration ends normally, `summary` holds the verified trailer. Iteration raises
    StreamError on truncation, foreign data, an unknown version, malformed or out-of-order
    records, or a checksum/count mismatch (detected at the trailer, i.e. at the very end).
    """

    def __init__(self, inp: BinaryIO):
        self._in = _Input(inp)
        self.summary: StreamSummary | None = None
        if self._in.at_end():
            raise StreamError("the stream is empty (0 bytes)")
        magic = self._in.peek(len(MAGIC))
        if magic != MAGIC and MAGIC.startswith(magic):
            raise StreamError("stream is truncated (ended inside the magic)")
        if magic != MAGIC:
            raise StreamError(f"not a zkstash stream (bad magic bytes{_looks_like(magic)})")
        self._in.take(len(MAGIC), "magic")
        (version,) = struct.unpack(">H", self._in.take(2, "format version"))
        if version != FORMAT_VERSION:
            raise StreamError(
                f"unsupported stream format version {version} (this build reads {FORMAT_VERSION})"
            )
        kind, body = self._record()
        if kind != KIND_HEADER:
            raise StreamError("stream does not start with a header record")
        header_json = _read_json(body, "header")
        if header_json.get("format") != FORMAT_VERSION:
            raise StreamError(f"header names format {header_json.get('format')!r}, expected 1")
        self.header = StreamHeader.from_json(header_json)

    def _record(self) -> tuple[int, bytes]:
        head = self._in.take(_RECORD_HEAD.size, "record header")
        kind, length = _RECORD_HEAD.unpack(head)
        if kind not in (KIND_HEADER, KIND_NODE, KIND_TRAILER):
            raise StreamError(f"unknown record kind 0x{kind:02x} at byte {self._in.consumed - 5}")
        if kind != KIND_NODE and length > MAX_JSON_RECORD:
            raise StreamError(f"{chr(kind)} record of {length} bytes is implausibly large")
        if kind == KIND_TRAILER:
            self._in.stop_hashing(back=_RECORD_HEAD.size)
            return kind, self._in.take(length, "trailer")
        return kind, self._in.take(length, "record")

    def __iter__(self) -> Iterator[NodeRecord]:
        return self._walk(decode_node)

    def check(self) -> StreamSummary:
        """Verify the rest of the stream decoding only paths (faster than iterating);
        returns the verified summary."""
        for _ in self._walk(_PathOnly.from_body):
            pass
        assert self.summary is not None
        return self.summary

    def _walk(self, decode) -> Iterator:
        root_key = path_key(self.header.root)
        last_key: tuple[str, ...] | None = None
        count = redacted = ephemeral = 0
        redacted_paths: list[str] = []
        bytes_before_trailer = self._in.consumed
        while True:
            bytes_before_trailer = self._in.consumed
            kind, body = self._record()
            if kind == KIND_TRAILER:
                break
            if kind == KIND_HEADER:
                raise StreamError("a second header record appears inside the stream")
            record = decode(body)
            key = path_key(record.path)
            if last_key is not None and key <= last_key:
                raise StreamError(f"records out of order at {record.path!r}")
            if key[: len(root_key)] != root_key:
                raise StreamError(f"node {record.path!r} lies outside the dump root")
            last_key = key
            count += 1
            if record.flags & FLAG_ACL_REDACTED:
                redacted += 1
                if len(redacted_paths) < MAX_NAMED_PATHS:
                    redacted_paths.append(record.path)
            ephemeral += record.flags & FLAG_EPHEMERAL
            yield record
        trailer = self._check_trailer(body, count, bytes_before_trailer)
        if trailer["redactedAcls"] != redacted or trailer["ephemeral"] != ephemeral:
            raise StreamError("trailer counts do not match the stream")
        self.summary = StreamSummary(
            format=FORMAT_VERSION,
            header=self.header,
            znodes=count,
            bytes=self._in.consumed,
            sha256=trailer["sha256"],
            zxid_start=int(trailer["zxidStart"]),
            zxid_end=int(trailer["zxidEnd"]),
            redacted_acls=redacted,
            ephemeral=ephemeral,
            redacted_paths=tuple(redacted_paths),
        )

    def _check_trailer(self, body: bytes, count: int, offset: int) -> dict:
        trailer = _read_json(body, "trailer")
        digest = self._in.hash.hexdigest()
        if trailer.get("sha256") != digest:
            raise StreamError("checksum mismatch: the stream is corrupted")
        if set(trailer) != TRAILER_KEYS or _json_bytes(trailer) != body:
            raise StreamError("the trailer record is damaged (unexpected keys or layout)")
        if trailer[TRAILER_CHECK] != trailer_check(trailer):
            raise StreamError("trailer checksum mismatch: the trailer is corrupted")
        if trailer["znodes"] != count or trailer["bytes"] != offset:
            raise StreamError("trailer counts do not match the stream")
        if not self._in.at_end():
            raise StreamError("unexpected data after the trailer")
        return trailer


class AclVersion(NamedTuple):
    """What a node record says of its ACL: `version` is the path and the Stat fields that
    change whenever the ACL can (czxid and ctime: a new node; aversion: a setACL), as bytes."""

    path: str
    flags: int
    version: bytes
    acl: tuple[AclEntry, ...]


_ACL_VERSION = struct.Struct(">qqi")
# where czxid, ctime and aversion sit in a packed Stat (jute order, see _STAT)
_CZXID, _CTIME, _AVERSION = slice(0, 8), slice(16, 24), slice(40, 44)


def acl_version(path: str, czxid: int, ctime: int, aversion: int) -> bytes:
    """A node's ACL version key: equal keys mean the same ACL (ZooKeeper sets an ACL only at
    create, which gives a new czxid and ctime, and by setACL, which increments aversion)."""
    return path.encode() + _ACL_VERSION.pack(czxid, ctime, aversion)


def _acl_version_of(body: bytes) -> AclVersion:
    # the key is cut from the record's own bytes: the same bytes acl_version() packs
    try:
        path, offset = _decode_path(body)
        stat = body[offset : offset + _STAT.size]
        flags, _, acl_count, acl_len = _NODE_FIXED.unpack_from(body, offset + _STAT.size)
        acl_start = offset + _STAT_AND_FIXED.size
        acl = _decode_acl(body[acl_start : acl_start + acl_len], acl_count)
    except (struct.error, UnicodeDecodeError) as exc:
        raise StreamError(f"malformed node record: {exc}") from exc
    version = b"".join((body[4:offset], stat[_CZXID], stat[_CTIME], stat[_AVERSION]))
    return AclVersion(path, flags, version, acl)


def acl_versions(inp: BinaryIO) -> Iterator[AclVersion]:
    """Each node record's ACL and ACL version key, in order, up to the trailer.

    A lean pass for `known_acls`: it checks the magic, version, header and every record's
    framing, not the order, counts and checksum a full read verifies (a lookup needs an exact
    key, and restic authenticates every byte it returns) — at about half the cost per record.
    """
    source = StreamReader(inp)._in
    source.stop_hashing(back=0)
    while True:
        kind, length = _RECORD_HEAD.unpack(source.take(_RECORD_HEAD.size, "record header"))
        if kind == KIND_TRAILER:
            return
        if kind != KIND_NODE:
            raise StreamError(f"unexpected record kind 0x{kind:02x} among the nodes")
        yield _acl_version_of(source.take(length, "record"))


def records(inp: BinaryIO) -> Iterator[NodeRecord]:
    """Decoded node records of a stream, in order (integrity is only known at the end)."""
    yield from StreamReader(inp)


class _PathOnly(NamedTuple):
    path: str
    flags: int

    @classmethod
    def from_body(cls, body: bytes) -> _PathOnly:
        return cls(*node_path_and_flags(body))


def verify(inp: BinaryIO) -> StreamSummary:
    """Read a whole stream and check it (framing, order, count, checksum); returns its
    summary or raises StreamError."""
    return StreamReader(inp).check()
