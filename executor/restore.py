"""Restore a zkstash stream into ZooKeeper.

Two passes over the stream (it is opened twice, so memory stays constant):
1. plan: verify the whole stream (structure, order, checksum) without writing; in `fail` and
   `mirror` mode and for a dry run also compare it with the target tree;
2. apply: create missing nodes parent-first in byte-sized `multi` batches with their saved
   ACLs, handle existing ones per mode, pad sequential counters back, and in `mirror` mode
   delete the target nodes the stream does not hold (children before parents).
A damaged stream fails in pass 1, so it writes nothing; so does a stream whose digest ACLs were
redacted by the server (unless the caller allows it explicitly).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field
from typing import BinaryIO, Literal

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NodeExistsError, NoNodeError
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.retry import RetryFailedError
from kazoo.security import ACL, OPEN_ACL_UNSAFE, Id

from executor.dump import sequence_counter
from executor.stream import NodeRecord, StreamError, StreamReader, StreamSummary
from executor.zk.connection import ZkConnectionError, ZkConnectionSettings, connect, disconnect
from executor.zk.paths import SYSTEM_ROOT, PathFilter, components, join, reroot, validate_path
from executor.zk.reader import NodeReader, ReaderSettings, ZNode
from executor.zk.walk import walk
from executor.zk.writer import BatchWriter, Op, WriteFailed

RestoreMode = Literal["skip", "overwrite", "mirror", "fail"]
MODES = ("skip", "overwrite", "mirror", "fail")
PLAN_BATCH = 500
PROGRESS_EVERY = 1000
PAD_NAME = "zkstash-sequence-pad"
MAX_DIFF_LINES = 10_000


class RestoreError(Exception):
    """The restore failed or was refused (the message says which node or why)."""


@dataclass
class RestoreOptions:
    """How to treat existing nodes, where to restore, and batch tuning."""

    mode: RestoreMode = "skip"
    dry_run: bool = False
    target_root: str | None = None
    batch_bytes: int = 512 * 1024
    in_flight: int = 4
    allow_redacted_acls: bool = False


@dataclass
class RestoreSummary:
    """Counts of a restore; `diff` lists planned changes (dry run) as `create /p` etc."""

    znodes: int
    created: int
    updated: int
    skipped: int
    deleted: int
    sequence_padded: int
    duration_seconds: float
    diff: list[str]
    stream: StreamSummary
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Counts:
    znodes: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    deleted: int = 0
    sequence_padded: int = 0
    diff: list[str] = field(default_factory=list)

    def note(self, line: str) -> None:
        if len(self.diff) < MAX_DIFF_LINES:
            self.diff.append(line)


@functools.lru_cache(maxsize=4096)
def _acl_of(entries: tuple) -> tuple[ACL, ...]:
    return tuple(ACL(e.perms, Id(e.scheme, e.id)) for e in entries)


def to_acl(record: NodeRecord) -> list[ACL]:
    return list(_acl_of(record.acl))


def same_acl(current: list[ACL], record: NodeRecord) -> bool:
    return sorted(current) == sorted(to_acl(record))


class _Restorer:
    def __init__(self, client: KazooClient, options: RestoreOptions):
        self.client = client
        self.options = options
        self.source_root = "/"
        self.target_root = options.target_root or "/"
        self.dump_filter = PathFilter()
        self.reader = NodeReader(client, "auto", ReaderSettings(in_flight=options.in_flight))
        self.planned = _Counts()  # what the plan pass found (the dry-run answer)
        self.counts = _Counts()  # what the apply pass did
        self.extras: list[str] = []  # mirror: target subtrees absent from the stream

    def target(self, record: NodeRecord) -> str:
        return reroot(record.path, self.source_root, self.target_root)

    def restorable(self, record: NodeRecord) -> bool:
        """Ephemeral records belong to sessions that are gone: they are not recreated."""
        return not record.ephemeral

    # ---- pass 1: verify (and compare with the target) --------------------------------------
    def plan(self, stream: BinaryIO) -> StreamSummary:
        reader = StreamReader(stream)
        header = reader.header
        self.source_root = header.root
        self.target_root = self.options.target_root or header.root
        self.dump_filter = PathFilter.build(
            list(header.include), list(header.exclude), header.include_system
        )
        compare = self.options.dry_run or self.options.mode in ("fail", "mirror")
        existing: list[str] = []
        open_dirs: list[tuple[str, set[str]]] = []  # mirror: target children not yet seen
        if not compare:
            return reader.check()
        batch: list[NodeRecord] = []
        for record in reader:
            batch.append(record)
            if len(batch) >= PLAN_BATCH:
                self._compare(batch, existing, open_dirs)
                batch = []
        self._compare(batch, existing, open_dirs)
        self._close_dirs(open_dirs, ())
        assert reader.summary is not None
        if self.options.mode == "fail" and existing:
            shown = ", ".join(existing[:5]) + (" …" if len(existing) > 5 else "")
            raise RestoreError(
                f"mode 'fail': {len(existing)} znodes already exist under "
                f"{self.target_root!r} ({shown}); nothing was written"
            )
        return reader.summary

    def _compare(
        self, batch: list[NodeRecord], existing: list[str], open_dirs: list[tuple[str, set[str]]]
    ) -> None:
        if not batch:
            return
        targets = [self.target(r) for r in batch]
        nodes = self.reader.read(targets)
        planned = self.planned
        for record, path, node in zip(batch, targets, nodes, strict=True):
            self._close_dirs(open_dirs, components(path))
            if open_dirs and path != "/" and open_dirs[-1][0] == _parent(path):
                open_dirs[-1][1].discard(path.rsplit("/", 1)[1])
            planned.znodes += 1
            if not self.restorable(record):
                planned.skipped += 1
                planned.note(f"ignore {path} (ephemeral)")
                continue
            if node is None:
                planned.created += 1
                planned.note(f"create {path}")
            else:
                if path != "/":
                    existing.append(path)
                planned.note(self._existing_line(record, path, node))
            if self.options.mode == "mirror":
                children = set(node.children) if node else set()
                open_dirs.append((path, children))

    def _existing_line(self, record: NodeRecord, path: str, node: ZNode) -> str:
        changes = []
        if (record.data or b"") != (node.data or b""):
            changes.append("data")
        if not same_acl(node.acl, record):
            changes.append("acl")
        if self.options.mode in ("overwrite", "mirror") and changes:
            self.planned.updated += 1
            return f"update {path} ({', '.join(changes)})"
        self.planned.skipped += 1
        return f"skip {path} (exists{', differs: ' + ', '.join(changes) if changes else ''})"

    def _close_dirs(self, open_dirs: list[tuple[str, set[str]]], until: tuple[str, ...]) -> None:
        """Leave every open directory that is not an ancestor of the path `until`."""
        while open_dirs and not _is_ancestor(components(open_dirs[-1][0]), until):
            path, unseen = open_dirs.pop()
            for name in sorted(unseen):
                extra = join(path, name)
                if not self._mirror_may_delete(extra):
                    continue
                self.extras.append(extra)
                self.planned.deleted += 1
                self.planned.note(f"delete {extra} (and its subtree)")

    def _mirror_may_delete(self, path: str) -> bool:
        """Nodes the dump left out on purpose (its filters, /zookeeper) are not extras."""
        if path == SYSTEM_ROOT:
            return False
        source = reroot(path, self.target_root, self.source_root)
        return not self.dump_filter.excluded(source) and self.dump_filter.selected(source)

    # ---- pass 2: apply ---------------------------------------------------------------------
    def apply(self, stream: BinaryIO, progress: Callable[[int], None] | None) -> None:
        writer = BatchWriter(
            self.client, self.options.batch_bytes, self.options.in_flight, self._conflict
        )
        self._pads: list[tuple[str, int]] = []
        self._acl_updates: list[tuple[str, list[ACL]]] = []
        # look before creating only while the target has nodes: restoring into an empty place
        # needs no reads, and a node that appears anyway is caught as a conflict
        self._precheck = self.client.exists(self.target_root) is not None
        batch: list[NodeRecord] = []
        first = True
        for record in StreamReader(stream):
            if first:
                self._ensure_ancestors(self.target(record), to_acl(record))
                first = False
            batch.append(record)
            if len(batch) >= PLAN_BATCH:
                self._apply_batch(batch, writer)
                batch = []
                if progress:
                    progress(self.counts.znodes)
        self._apply_batch(batch, writer)
        writer.close()
        self._set_acls()
        self._pad_counters(writer)
        if self.options.mode == "mirror":
            self._delete_extras(writer)
        if progress:
            progress(self.counts.znodes)

    def _ensure_ancestors(self, path: str, acl: list[ACL]) -> None:
        parts = components(path)
        for depth in range(1, len(parts)):
            ancestor = "/" + "/".join(parts[:depth])
            with suppress(NodeExistsError):
                self.client.retry(self.client.create, ancestor, b"", acl=acl)

    def _apply_batch(self, batch: list[NodeRecord], writer: BatchWriter) -> None:
        if not batch:
            return
        records = [r for r in batch if self.restorable(r)]
        self.counts.znodes += len(batch)
        self.counts.skipped += len(batch) - len(records)
        targets = [self.target(r) for r in records]
        if self._precheck:
            current = self.reader.read_data(targets)
            self._precheck = any(state is not None for state in current)
        else:
            current = [None] * len(targets)
        overwrite = self.options.mode in ("overwrite", "mirror")
        acl_checks = []
        for record, path, state in zip(records, targets, current, strict=True):
            if record.sequence > 0:
                self._pads.append((path, record.sequence))
            data = record.data or b""
            if state is None:
                writer.create(path, data, _acl_of(record.acl))
                self.counts.created += 1
            elif not overwrite:
                self.counts.skipped += 1
            else:
                changed = (state.data or b"") != data
                if changed:
                    writer.set(path, data)
                acl_checks.append((record, path, self.client.get_acls_async(path), changed))
        for record, path, acl_async, changed in acl_checks:
            acl, _ = acl_async.get(timeout=60)
            acl_differs = not same_acl(acl, record)
            if acl_differs:
                self._acl_updates.append((path, to_acl(record)))
            if changed or acl_differs:
                self.counts.updated += 1
            else:
                self.counts.skipped += 1

    def _conflict(self, op: Op, error: Exception) -> None:
        """A create raced with another writer (node now exists) or a delete found nothing."""
        if op.path.endswith("/" + PAD_NAME):
            raise RestoreError(f"padding the sequence counter failed at {op.path}: {error!r}")
        if op.kind == "create" and isinstance(error, NodeExistsError):
            self._precheck = True  # the target is not empty here: look before creating
            self.counts.created -= 1
            self.counts.skipped += 1
            if self.options.mode in ("overwrite", "mirror"):
                self.client.retry(self.client.set, op.path, op.data)
                self.client.retry(self.client.set_acls, op.path, list(op.acl))
                self.counts.skipped -= 1
                self.counts.updated += 1
            return
        if op.kind == "delete" and isinstance(error, NoNodeError):
            self.counts.deleted -= 1
            return
        if op.kind == "create" and isinstance(error, NoNodeError):
            raise RestoreError(f"cannot create {op.path}: its parent does not exist")
        raise RestoreError(f"{op.kind} {op.path} failed: {type(error).__name__}")

    def _set_acls(self) -> None:
        # setACL cannot go into a multi: pipeline the calls instead
        window = []
        for path, acl in self._acl_updates:
            window.append(self.client.set_acls_async(path, acl))
            if len(window) >= 64:
                for pending in window:
                    pending.get(timeout=60)
                window = []
        for pending in window:
            pending.get(timeout=60)

    def _pad_counters(self, writer: BatchWriter) -> None:
        """Advance each parent's sequential counter to the saved value with create+delete
        pairs (each pair adds one create, so the next sequential suffix equals the saved one)."""
        for start in range(0, len(self._pads), PLAN_BATCH):
            chunk = self._pads[start : start + PLAN_BATCH]
            states = self.reader.read_data([path for path, _ in chunk])
            for (path, saved), state in zip(chunk, states, strict=True):
                if state is None:
                    continue
                missing = saved - sequence_counter(state.stat.cversion, state.stat.numChildren)
                pad = join(path, PAD_NAME)
                if missing > 0 and self.client.exists(pad):
                    raise RestoreError(f"cannot pad the sequence counter of {path}: {pad} exists")
                for _ in range(max(missing, 0)):
                    writer.create(pad, b"", tuple(OPEN_ACL_UNSAFE))
                    writer.delete(pad)
                self.counts.sequence_padded += max(missing, 0)
        writer.close()

    def _delete_extras(self, writer: BatchWriter) -> None:
        everything = PathFilter(include_system=True)
        for extra in self.extras:
            doomed = [n.path for n in walk(self.reader, extra, everything)]
            for path in reversed(doomed):  # reversed pre-order: children before parents
                writer.delete(path)
                self.counts.deleted += 1
        writer.close()


def redaction_problem(summary: StreamSummary) -> str:
    """The sentence describing a stream whose digest ACLs were redacted, or "" if none were.

    A user without ADMIN on a node reads its digest ids as `user:x`; restoring that entry
    would give the node an ACL no password matches, so the node could never be used again.
    """
    if not summary.redacted_acls:
        return ""
    # paths may be long: each is cut so the sentence fits the result's 4 KB limit
    shown = ", ".join(p if len(p) <= 80 else p[:79] + "…" for p in summary.redacted_paths)
    more = " …" if summary.redacted_acls > len(summary.redacted_paths) else ""
    return (
        f"{summary.redacted_acls} znodes in the stream have digest ACLs redacted to 'user:x' "
        f"({shown}{more}): the dump ran as a user without ADMIN on them, and restoring them "
        "would lock them behind a digest no password matches"
    )


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


def _is_ancestor(parent: tuple[str, ...], child: tuple[str, ...]) -> bool:
    return len(parent) < len(child) and child[: len(parent)] == parent


def restore(
    settings: ZkConnectionSettings,
    open_stream: Callable[[], AbstractContextManager[BinaryIO]],
    options: RestoreOptions,
    progress: Callable[[int], None] | None = None,
) -> RestoreSummary:
    """Verify the stream from `open_stream()` completely, then apply it from a second
    `open_stream()`. Raises RestoreError (nothing written when the stream is damaged, or in
    mode `fail` when a node exists). `progress` gets the cumulative count of records applied.
    """
    if options.mode not in MODES:
        raise RestoreError(f"restore mode {options.mode!r}: expected one of {', '.join(MODES)}")
    if options.target_root is not None:
        try:
            validate_path(options.target_root, "target root")
        except ValueError as exc:
            raise RestoreError(str(exc)) from exc
    started = time.monotonic()
    try:
        client = connect(settings)
    except ZkConnectionError as exc:
        raise RestoreError(str(exc)) from exc
    try:
        restorer = _Restorer(client, options)
        with open_stream() as stream:
            summary = restorer.plan(stream)
        redacted = redaction_problem(summary)
        if redacted and not options.allow_redacted_acls:
            raise RestoreError(
                f"{redacted}; nothing was written (back up as a user with ADMIN on every node, "
                "e.g. the super user, or pass --allow-redacted-acls to restore them anyway)"
            )
        if not options.dry_run:
            with open_stream() as stream:
                restorer.apply(stream, progress)
    except StreamError as exc:
        raise RestoreError(f"the backup stream is damaged: {exc}") from exc
    except WriteFailed as exc:
        raise RestoreError(f"restore failed at {exc}") from exc
    except (KazooException, KazooTimeoutError, RetryFailedError, OSError) as exc:
        raise RestoreError(f"restore failed: {type(exc).__name__} {exc}".strip()) from exc
    finally:
        disconnect(client)
    counts = restorer.planned if options.dry_run else restorer.counts
    return RestoreSummary(
        znodes=summary.znodes,
        created=counts.created,
        updated=counts.updated,
        skipped=counts.skipped,
        deleted=counts.deleted,
        sequence_padded=counts.sequence_padded,
        duration_seconds=time.monotonic() - started,
        diff=restorer.planned.diff,
        stream=summary,
        warnings=[f"{redacted}; restored as saved (--allow-redacted-acls)"] if redacted else [],
    )
