"""Dump a ZooKeeper (sub)tree into a zkstash stream (docs/format.md)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NoAuthError, NoNodeError
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.retry import RetryFailedError
from kazoo.security import ACL

from executor.known_acls import KnownAcls
from executor.stream import (
    FLAG_ACL_REDACTED,
    FLAG_EPHEMERAL,
    AclEntry,
    NodeRecord,
    StreamHeader,
    StreamWriter,
)
from executor.zk.connection import ZkConnectionError, ZkConnectionSettings, connect, disconnect
from executor.zk.paths import PathFilter, validate_path
from executor.zk.rawsession import RawSession
from executor.zk.reader import NodeReader, ReaderSettings, ReadMode, ZNode
from executor.zk.walk import walk

PROGRESS_EVERY = 1000


class DumpError(Exception):
    """The dump failed; no valid trailer was written, so the output is not a backup."""


@dataclass
class DumpOptions:
    """What to dump and how hard to push the server."""

    root: str = "/"
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    include_ephemeral: bool = False
    include_system: bool = False
    batch_bytes: int = 512 * 1024
    in_flight: int = 8
    read_mode: ReadMode = "auto"
    read_sessions: int = 3


@dataclass(frozen=True)
class DumpSummary:
    """Result of a successful dump. `bytes` counts the whole stream (trailer included);
    `sha256` is the digest recorded in the trailer (all bytes before it)."""

    znodes: int
    bytes: int
    sha256: str
    zxid_start: int
    zxid_end: int
    duration_seconds: float
    server_version: str
    read_mode: str = "multiread"
    redacted_acls: int = 0
    warnings: list[str] = field(default_factory=list)
    acls_reused: int = 0  # ACLs taken from `known_acls` instead of asking ZooKeeper


def sequence_counter(cversion: int, num_children: int) -> int:
    """The parent's next sequential suffix: the server shows cversion = 2*creates - children."""
    return (cversion + num_children) // 2


def is_redacted(entry: AclEntry) -> bool:
    """A digest id the server hid (`user:x`) because the reader lacked ADMIN on the node."""
    return entry.scheme == "digest" and entry.id.endswith(":x")


@functools.lru_cache(maxsize=4096)
def _stored_acl(acl: tuple[ACL, ...]) -> tuple[tuple[AclEntry, ...], int]:
    # trees share a handful of ACLs: convert (and check for redaction) once per distinct ACL
    entries = tuple(AclEntry(a.perms, a.id.scheme, a.id.id) for a in acl)
    return entries, FLAG_ACL_REDACTED if any(is_redacted(e) for e in entries) else 0


def to_record(node: ZNode) -> NodeRecord:
    """Stream record for a node read from ZooKeeper."""
    stat = node.stat
    acl, flags = _stored_acl(tuple(node.acl))
    if stat.ephemeralOwner:
        flags |= FLAG_EPHEMERAL
    counter = sequence_counter(stat.cversion, stat.numChildren)
    return NodeRecord(node.path, node.data, tuple(stat), acl, counter, flags)


def server_version(client: KazooClient) -> str:
    """The version from the `srvr` 4lw ('' when the server does not answer it)."""
    try:
        reply = client.command(b"srvr")
    except Exception:  # 4lw is optional (TLS-only ports, whitelists): the version is informative
        return ""
    for line in reply.splitlines():
        if line.startswith("Zookeeper version:"):
            return line.split(":", 1)[1].split(",")[0].strip()
    return ""


def _warnings(writer: StreamWriter) -> list[str]:
    if not writer.redacted_acls:
        return []
    return [
        f"{writer.redacted_acls} znodes have digest ACLs the server redacted to 'user:x' "
        "(connect as a user with ADMIN on them, e.g. the super user, to save them intact)"
    ]


def dump(
    settings: ZkConnectionSettings,
    options: DumpOptions,
    out: BinaryIO,
    progress: Callable[[int], None] | None = None,
    known_acls: KnownAcls | None = None,
) -> DumpSummary:
    """Write a complete stream (header, nodes in pre-order, trailer) of `options.root` to `out`.

    `progress` is called with the cumulative number of znodes written (every 1,000 and at the
    end). `known_acls` (from the previous backup) spare the getACL of unchanged nodes.
    Raises DumpError on any failure; the stream then has no trailer, so it never verifies.
    """
    try:
        root = validate_path(options.root, "dump root")
        path_filter = PathFilter.build(options.include, options.exclude, options.include_system)
    except ValueError as exc:
        raise DumpError(str(exc)) from exc
    started = time.monotonic()
    try:
        client = connect(settings)
    except ZkConnectionError as exc:
        raise DumpError(str(exc)) from exc
    try:
        return _dump_with(
            client, settings, root, path_filter, options, out, progress, started, known_acls
        )
    except NoNodeError as exc:
        raise DumpError(f"dump root {root!r} does not exist") from exc
    except NoAuthError as exc:
        raise DumpError(
            f"not authorized to read under {root!r} (check the ZooKeeper credentials: "
            "digest auth with a wrong password connects as a different user)"
        ) from exc
    except (KazooException, KazooTimeoutError, RetryFailedError, OSError) as exc:
        raise DumpError(f"dump of {root!r} failed: {type(exc).__name__} {exc}".strip()) from exc
    finally:
        disconnect(client)


def _dump_with(
    client: KazooClient,
    settings: ZkConnectionSettings,
    root: str,
    path_filter: PathFilter,
    options: DumpOptions,
    out: BinaryIO,
    progress: Callable[[int], None] | None,
    started: float,
    known_acls: KnownAcls | None,
) -> DumpSummary:
    client.sync(root)
    reader_settings = ReaderSettings(
        batch_bytes=options.batch_bytes,
        in_flight=options.in_flight,
        timeout=settings.timeout,
    )
    # bulk reads on extra single-threaded sessions; SASL sessions read through kazoo
    count = 0 if settings.auth == "sasl" else max(1, options.read_sessions)
    sessions = [RawSession(settings, first_host=i) for i in range(count)]
    try:
        reader = NodeReader(client, options.read_mode, reader_settings, sessions, known_acls)
        return _write_stream(client, reader, root, path_filter, options, out, progress, started)
    finally:
        for session in sessions:
            session.close()


def _write_stream(
    client: KazooClient,
    reader: NodeReader,
    root: str,
    path_filter: PathFilter,
    options: DumpOptions,
    out: BinaryIO,
    progress: Callable[[int], None] | None,
    started: float,
) -> DumpSummary:
    zxid_start = client.last_zxid
    version = server_version(client)
    if not client.exists(root):
        raise NoNodeError(root)
    header = StreamHeader(
        root=root,
        server_version=version,
        include=tuple(options.include),
        exclude=tuple(options.exclude),
        include_ephemeral=options.include_ephemeral,
        include_system=options.include_system,
    )
    writer = StreamWriter(out, header)
    for node in walk(reader, root, path_filter):
        if node.stat.ephemeralOwner and not options.include_ephemeral:
            continue
        if not path_filter.selected(node.path):
            continue
        writer.node(to_record(node))
        if progress and writer.znodes % PROGRESS_EVERY == 0:
            progress(writer.znodes)
    client.sync(root)
    zxid_end = max(client.last_zxid, reader.last_zxid)
    sha256 = writer.finish(zxid_start, zxid_end)
    if progress:
        progress(writer.znodes)
    return DumpSummary(
        znodes=writer.znodes,
        bytes=writer.bytes,
        sha256=sha256,
        zxid_start=zxid_start,
        zxid_end=zxid_end,
        duration_seconds=time.monotonic() - started,
        server_version=version,
        read_mode=reader.mode,
        redacted_acls=writer.redacted_acls,
        warnings=_warnings(writer),
        acls_reused=reader.acls_reused,
    )
