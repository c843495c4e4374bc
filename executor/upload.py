"""Fan one dump stream into N concurrent `restic backup --stdin` processes, one per repository.

No interim file: the producer writes into a `FanOut`, which hands fixed-size chunks to one
feeder thread per restic process through a small bounded queue (so memory stays bounded and
the slowest repository sets the pace, while the others keep reading in parallel).

restic 0.14 commits whatever arrived on stdin once stdin closes, even a truncated stream. So:
- each restic runs behind the stream gate (`executor.stream_gate`), which lets restic see the
  end of its input only after an intact trailer, and otherwise stops restic uncommitted — also
  when the executor is killed outright;
- every snapshot of one run carries a unique tag `zkstash-run-<hex>`;
- when the producer fails, every gate is told to stop its restic (SIGTERM), and then every
  snapshot carrying the run tag is forgotten anyway;
- a repository whose restic failed, or that processed a different byte count than the producer
  wrote, gets its run-tagged snapshot forgotten and is reported Failed.

The per-repository restic calls around the stream (stale-lock removal before, snapshot lookup
after) run concurrently too: each is a separate restic process that spends most of its time
starting up and reaching the backend, so N repositories cost about as much as one. Local
repositories skip both when they can (`ResticRepository.unlock_stale`, `full_snapshot_id`).
"""

from __future__ import annotations

import contextlib
import queue
import secrets
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from typing import IO, Generic, TypeVar

from executor.restic import ResticError, ResticRepository, parse_backup_output
from executor.stream_gate import REFUSED

CHUNK_BYTES = 1 << 20  # restic reads stdin in large blocks; 1 MiB keeps queue traffic low
QUEUE_CHUNKS = 8  # per repository: at most 8 MiB buffered ahead of a slow restic
RUN_TAG_PREFIX = "zkstash-run-"

T = TypeVar("T")
U = TypeVar("U")


class AllRepositoriesFailed(Exception):
    """Raised into the producer when no repository can take more data."""


@dataclass
class RepositoryOutcome:
    """What one repository ended up with after a backup run."""

    name: str
    phase: str = "Failed"  # Succeeded | Failed
    snapshot_id: str = ""  # full 64-hex id when Succeeded
    bytes_added: int = 0
    error: str = ""


@dataclass
class UploadResult(Generic[T]):
    """The producer's return value (None if it failed) and one outcome per repository."""

    produced: T | None
    producer_error: BaseException | None
    outcomes: list[RepositoryOutcome]

    @property
    def succeeded(self) -> bool:
        """True when the producer finished and every repository holds a verified snapshot."""
        return self.producer_error is None and all(o.phase == "Succeeded" for o in self.outcomes)


def new_run_tag() -> str:
    """A tag no other backup run carries; it finds this run's snapshots for cleanup."""
    return RUN_TAG_PREFIX + secrets.token_hex(8)


class _Feeder:
    """One gated restic backup process and the thread that writes chunks to its stdin."""

    def __init__(self, repo: ResticRepository, process: subprocess.Popen[bytes]) -> None:
        self.repo = repo
        self.process = process
        self.chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self.broken = False
        self.stopped = False  # by us, on abort (restic's own failure leaves this False)
        self.thread = threading.Thread(target=self._feed, name=f"feed-{repo.repository.name}")
        self.thread.daemon = True

    def _feed(self) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        while True:
            chunk = self.chunks.get()
            if chunk is None:
                break
            if self.broken:
                continue  # keep draining so the producer never blocks on a dead repository
            try:
                stdin.write(chunk)
            except OSError:  # the gate exited (BrokenPipe): restic failed or was stopped
                self.broken = True
        if not self.broken:
            try:
                stdin.close()  # end of stream: restic now commits the snapshot
            except OSError:
                self.broken = True


class FanOut:
    """A write-only binary stream that copies everything to every live feeder."""

    def __init__(self, feeders: Sequence[_Feeder], on_bytes: Callable[[int], None] | None) -> None:
        self._feeders = list(feeders)
        self._buffer = bytearray()
        self._on_bytes = on_bytes
        self.bytes_written = 0

    def writable(self) -> bool:
        """This stream only writes."""
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Buffer `data`; full chunks go to every repository still taking data."""
        self._buffer += data
        self.bytes_written += len(data)
        if len(self._buffer) >= CHUNK_BYTES:
            self._dispatch()
        if self._on_bytes is not None:
            self._on_bytes(self.bytes_written)
        return len(data)

    def flush(self) -> None:
        """Nothing to do: chunks leave when full, the rest at finish()."""

    def _dispatch(self) -> None:
        if not self._buffer:
            return
        chunk = bytes(self._buffer)
        self._buffer.clear()
        live = [feeder for feeder in self._feeders if not feeder.broken]
        if not live:
            raise AllRepositoriesFailed("every repository's restic process has stopped")
        for feeder in live:
            feeder.chunks.put(chunk)

    def finish(self) -> None:
        """Send the last partial chunk and end every stream (restic commits on end)."""
        self._dispatch()
        for feeder in self._feeders:
            feeder.chunks.put(None)


def _abort(feeders: Sequence[_Feeder]) -> None:
    """Have every gate stop its restic uncommitted, then stop the threads."""
    for feeder in feeders:
        feeder.broken = True
        if feeder.process.poll() is None:
            feeder.stopped = True
            feeder.process.terminate()
    for feeder in feeders:
        feeder.chunks.put(None)


def each_concurrently(function: Callable[[T], U], items: Sequence[T]) -> list[U]:
    """`[function(item) for item in items]`, one thread per item, results in the same order."""
    if len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=len(items), thread_name_prefix="repository") as pool:
        return list(pool.map(function, items))


def _unlock(repo: ResticRepository) -> ResticError | None:
    try:
        repo.unlock_stale()
    except ResticError as exc:
        return exc
    return None


def unlock_stale_locks(repos: Sequence[ResticRepository]) -> list[ResticError | None]:
    """`restic unlock` (stale locks only) on every repository at once; the error of each, if any.

    The threads have ended when this returns, so restic processes forked later (with a
    preexec_fn) never share the process with them.
    """
    return each_concurrently(_unlock, repos)


def forget_run(repo: ResticRepository, run_tag: str) -> str:
    """Forget every snapshot carrying `run_tag`; returns "" or a sentence saying why it failed."""
    try:
        leftovers = repo.snapshots(tags=[run_tag])
        repo.forget([snapshot.id for snapshot in leftovers])
        return ""
    except ResticError as exc:
        return f"the partial snapshot could not be forgotten ({exc})"


def _settle(
    feeder: _Feeder,
    stdout: IO[bytes],
    stderr: IO[bytes],
    expected_bytes: int | None,
    run_tag: str,
) -> RepositoryOutcome:
    """Turn a finished restic process into an outcome; forget its snapshot unless complete."""
    repo = feeder.repo
    outcome = RepositoryOutcome(name=repo.repository.name)
    stopped = feeder.stopped or feeder.process.returncode == REFUSED
    if stopped:
        # the gate's SIGKILL left restic's lock behind; it would block every exclusive command
        # (forget, check, prune) until someone ran `restic unlock` (it is stale: its PID is gone)
        with contextlib.suppress(ResticError):
            repo.unlock_stale()
    stdout.seek(0)
    stderr.seek(0)
    summary = parse_backup_output(stdout.read().decode(errors="replace"))
    error_text = stderr.read().decode(errors="replace")
    if feeder.process.returncode != 0 and not stopped:
        outcome.error = str(repo.error(error_text)) if error_text else "restic backup failed"
    elif expected_bytes is None:
        outcome.error = "backup aborted: the dump did not complete"
    elif summary is None:
        outcome.error = str(repo.error(error_text)) if error_text else "restic backup failed"
    elif summary.bytes_processed != expected_bytes:
        outcome.error = (
            f"restic stored {summary.bytes_processed} bytes but the dump wrote {expected_bytes}"
        )
    else:
        try:
            full_id = repo.full_snapshot_id(summary.short_id, run_tag)
        except ResticError as exc:
            full_id, outcome.error = None, str(exc)
        if full_id is not None:
            outcome.phase = "Succeeded"
            outcome.snapshot_id = full_id
            outcome.bytes_added = summary.data_added
            return outcome
        outcome.error = outcome.error or f"snapshot {summary.short_id} not found after backup"
    cleanup_problem = forget_run(repo, run_tag)
    if cleanup_problem:
        outcome.error = f"{outcome.error}; {cleanup_problem}"
    return outcome


def stream_to_repositories(
    repos: Sequence[ResticRepository],
    produce: Callable[[FanOut], T],
    tags: Sequence[str],
    host: str,
    on_bytes: Callable[[int], None] | None = None,
) -> UploadResult[T]:
    """Run `produce(stream)` once, its output going into a new snapshot in every repository.

    `produce` must raise if the stream it wrote is not complete. restic processes are started
    before `produce` runs (so they are forked before the producer starts threads).
    """
    run_tag = new_run_tag()
    all_tags = [*tags, run_tag]
    with ExitStack() as stack:
        feeders, outputs = [], []
        for repo in repos:
            stdout = stack.enter_context(tempfile.TemporaryFile())
            stderr = stack.enter_context(tempfile.TemporaryFile())
            process = repo.start_backup(all_tags, host, stdout=stdout, stderr=stderr)
            feeders.append(_Feeder(repo, process))
            outputs.append((stdout, stderr))
        for feeder in feeders:
            feeder.thread.start()
        fan = FanOut(feeders, on_bytes)
        produced: T | None = None
        producer_error: BaseException | None = None
        try:
            produced = produce(fan)
            fan.finish()
        except BaseException as exc:  # SIGTERM/Ctrl-C too: nothing partial may be committed
            producer_error = exc
            _abort(feeders)
        for feeder in feeders:
            feeder.thread.join()
            feeder.process.wait()
        expected = fan.bytes_written if producer_error is None else None

        def settle(finished: tuple[_Feeder, tuple[IO[bytes], IO[bytes]]]) -> RepositoryOutcome:
            feeder, (stdout, stderr) = finished
            return _settle(feeder, stdout, stderr, expected, run_tag)

        outcomes = each_concurrently(settle, list(zip(feeders, outputs, strict=True)))
    return UploadResult(produced=produced, producer_error=producer_error, outcomes=outcomes)
