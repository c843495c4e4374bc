"""ACLs known from the previous backup, so a dump need not ask ZooKeeper for unchanged ones.

ZooKeeper has no batched getACL (multiRead carries only getData and getChildren), so reading
every ACL costs one request per znode — most of a dump's server time. But a node's ACL can
change only two ways: at create (a new czxid and ctime) and by setACL (aversion + 1). So when a
node's path, czxid, ctime and aversion equal those of a record in the previous snapshot's
stream, its ACL is the one that record holds: the same rule by which restic reuses an
unchanged file's content by its metadata. Nodes without such a record, and records whose ACL
the server had redacted (`user:x`), are read from ZooKeeper as before.

The previous stream is read while the dump runs (`loading`). Before each batch the dump
calls `reaches(key)`: it waits, if need be, until the loader has passed the batch's last path,
and then sends getACL only for the nodes `lookup` does not know. Reading a record costs a few
microseconds, a getACL about 30 µs of server time, so waiting pays — unless the previous
stream stalls: a wait longer than `PATIENCE` makes the dump stop waiting and ask ZooKeeper
for every ACL the loader has not reached.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import Callable, Iterator
from typing import IO

from kazoo.security import ACL, Id

from executor.stream import FLAG_ACL_REDACTED, AclEntry, StreamError, acl_versions, path_key

_PUBLISH_EVERY = 512  # records loaded between updates of the covered position
# About 120 B of memory per known ACL: at most 2^20 (~125 MB) are kept, so the dump stays
# within its memory budget on any tree; nodes beyond them are read from ZooKeeper.
MOST_KNOWN = 1 << 20
PATIENCE = 5.0  # seconds one batch may wait for the loader before the dump stops waiting


class KnownAcls:
    """ACLs by ACL version key (`stream.acl_version`), filled in path order by a loader."""

    def __init__(self, patience: float = PATIENCE, most: int = MOST_KNOWN) -> None:
        self._acl_by_version: dict[bytes, tuple[ACL, ...]] = {}
        self._distinct: dict[tuple[AclEntry, ...], tuple[ACL, ...]] = {}
        self._covered: tuple[str, ...] | None = None  # path key of the last published record
        self._last_path: str | None = None  # of the last record loaded
        self.complete = False
        self._loading = True
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._patience = patience
        self._most = most
        self.problem = ""  # why loading ended early ("" while loading or when complete)

    def covers(self, key: tuple[str, ...]) -> bool:
        """True when every previous record up to path key `key` has been loaded (so a node
        there that `lookup` misses is new or changed)."""
        covered = self._covered
        return self.complete or (covered is not None and key <= covered)

    def reaches(self, key: tuple[str, ...]) -> bool:
        """`covers(key)`, once the loader got there; False at once if it stopped short, and
        from the first wait longer than PATIENCE on (the previous stream stalls)."""
        if self.covers(key):
            return True
        if self._patience <= 0:
            return False
        with self._changed:
            reached = self._changed.wait_for(
                lambda: self.covers(key) or not self._loading, self._patience
            )
        if not reached:
            self._patience = 0.0
        return self.covers(key)

    def lookup(self, version: bytes) -> tuple[ACL, ...] | None:
        """The ACL for an ACL version key, if the previous snapshot holds it intact."""
        return self._acl_by_version.get(version)

    def load(self, stream: IO[bytes]) -> None:
        """Read a previous stream to its end (or until `stop`); a damaged stream keeps what
        came before the damage (each record is what ZooKeeper answered) and sets `problem`."""
        try:
            self._load(stream)
        except (StreamError, OSError, ValueError) as exc:  # damaged, or the reader was stopped
            if not self._stop.is_set():
                self.problem = f"the previous snapshot's stream ended early ({exc})"
        finally:
            with self._changed:
                if self._last_path is not None:
                    self._covered = path_key(self._last_path)
                self._loading = False
                self._changed.notify_all()

    def _load(self, stream: IO[bytes]) -> None:
        known = self._acl_by_version
        for count, record in enumerate(acl_versions(stream), 1):
            if not record.flags & FLAG_ACL_REDACTED:
                known[record.version] = self._interned(record.acl)
            self._last_path = record.path
            if count % _PUBLISH_EVERY == 0:
                with self._changed:
                    self._covered = path_key(record.path)
                    self._changed.notify_all()
                if self._stop.is_set():
                    return
            if count >= self._most:
                self.problem = f"the previous snapshot holds more than {self._most:,} nodes"
                return
        self.complete = True

    def stop(self) -> None:
        """Ask a running `load` to return soon."""
        self._stop.set()

    def _interned(self, acl: tuple[AclEntry, ...]) -> tuple[ACL, ...]:
        # a tree has a handful of distinct ACLs: one tuple of kazoo ACLs each
        kazoo_acl = self._distinct.get(acl)
        if kazoo_acl is None:
            kazoo_acl = tuple(ACL(e.perms, Id(e.scheme, e.id)) for e in acl)
            self._distinct[acl] = kazoo_acl
        return kazoo_acl


@contextlib.contextmanager
def loading(
    previous: subprocess.Popen[bytes], describe_failure: Callable[[str], str]
) -> Iterator[KnownAcls]:
    """Load the stream `previous` writes to its stdout in a background thread while the body
    runs, then stop loading and kill `previous` if it still runs. When `previous` failed,
    `describe_failure(its stderr)` becomes the KnownAcls' `problem`."""
    known = KnownAcls()
    assert previous.stdout is not None and previous.stderr is not None
    thread = threading.Thread(
        target=known.load, args=(previous.stdout,), name="known-acls", daemon=True
    )
    thread.start()
    try:
        yield known
    finally:
        known.stop()
        previous.kill()  # the dump is done: the rest of the previous stream is not needed
        thread.join()
        stderr = previous.stderr.read().decode(errors="replace")
        previous.stdout.close()
        previous.stderr.close()
        if previous.wait() > 0 and not known.complete:
            known.problem = describe_failure(stderr)
