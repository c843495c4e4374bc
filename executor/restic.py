"""Driving restic 0.14 (Debian) for one repository: init, backup from stdin, dump, forget, check.

The repository string goes in RESTIC_REPOSITORY and every secret in the environment, so nothing
secret ever shows in a process list. Certificate and key material that restic wants as files
(CA_CERT_DATA, GOOGLE_SERVICE_ACCOUNT_JSON_KEY) is written to private temporary files for the
lifetime of a `ResticRepository` context. restic's error text is turned into one sentence.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from executor.backends import Repository, redact_url
from executor.stream_gate import set_parent_death_signal

RESTIC = os.environ.get("ZKSTASH_RESTIC", "restic")
# The one file inside every snapshot: the dump stream. `restic dump <id> /<name>` reads it back.
STREAM_FILENAME = "zookeeper.zkdump"


class ResticError(Exception):
    """A restic operation failed; str() is one sentence without secrets."""


class SnapshotNotFound(ResticError):
    """The requested snapshot is not in the repository."""


@dataclass(frozen=True)
class Snapshot:
    """One restic snapshot as `restic snapshots --json` lists it."""

    id: str  # 64 hex
    short_id: str
    time: str
    hostname: str
    tags: tuple[str, ...]
    paths: tuple[str, ...]
    tree: str = ""  # id of the snapshot's root tree blob

    @classmethod
    def from_json(cls, obj: Mapping[str, object]) -> Snapshot:
        """Build from one element of `restic snapshots --json`."""
        return cls(
            id=str(obj["id"]),
            short_id=str(obj.get("short_id", str(obj["id"])[:8])),
            time=str(obj.get("time", "")),
            hostname=str(obj.get("hostname", "")),
            tags=tuple(obj.get("tags") or ()),  # type: ignore[arg-type]
            paths=tuple(obj.get("paths") or ()),  # type: ignore[arg-type]
            tree=str(obj.get("tree", "")),
        )


@dataclass(frozen=True)
class BackupSummary:
    """The final `summary` line of `restic backup --json` (0.14: snapshot_id is the short id)."""

    short_id: str
    bytes_processed: int
    data_added: int
    duration_seconds: float

    @classmethod
    def from_json(cls, obj: Mapping[str, object]) -> BackupSummary:
        """Build from the `{"message_type": "summary", …}` object."""
        return cls(
            short_id=str(obj.get("snapshot_id", "")),
            bytes_processed=int(obj.get("total_bytes_processed", 0)),  # type: ignore[arg-type]
            data_added=int(obj.get("data_added", 0)),  # type: ignore[arg-type]
            duration_seconds=float(obj.get("total_duration", 0.0)),  # type: ignore[arg-type]
        )


def parse_backup_output(stdout: str) -> BackupSummary | None:
    """The summary from `restic backup --json` output, or None if restic wrote none."""
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if obj.get("message_type") == "summary":
            return BackupSummary.from_json(obj)
    return None


def explain(stderr: str, repository: str) -> str:
    """One sentence for restic's error output (restic 0.14 wording), naming the repository."""
    text = stderr.lower()
    if "wrong password" in text:
        return f"wrong repository password for {repository} (RESTIC_PASSWORD does not open it)"
    if any(
        marker in text
        for marker in (
            "signaturedoesnotmatch",
            "signature we calculated does not match",
            "invalidaccesskeyid",
            "access key id you provided does not exist",  # S3's text for InvalidAccessKeyId
            "access denied",
            "accessdenied",
            "authorizationfailure",
            "403 forbidden",
            "401 unauthorized",
        )
    ):
        return f"the storage of {repository} rejected the credentials (check the access keys)"
    if "already locked" in text:
        return f"{repository} is locked by another running restic process; try again later"
    if "no matching id found" in text or "no snapshot found" in text:
        return f"snapshot not found in {repository}"
    if "is there a repository at the following location" in text:
        return f"no restic repository at {repository} (run `executor init-repository` first)"
    if "connection refused" in text or "no such host" in text or "dial tcp" in text:
        return f"cannot reach the storage of {repository}"
    fatal = [line for line in stderr.splitlines() if line.startswith("Fatal:")]
    detail = (fatal[-1] if fatal else (stderr.strip().splitlines() or ["no output"])[-1]).strip()
    return f"restic failed on {repository}: {detail.removeprefix('Fatal: ')}"


def _stop_gate_on_death() -> None:
    set_parent_death_signal(signal.SIGTERM)


# restic's backends other than `local`; a repository string without one of these is a path
_REMOTE_SCHEMES = ("s3:", "gs:", "azure:", "b2:", "swift:", "rest:", "sftp:", "rclone:")


def local_directory(url: str) -> Path | None:
    """The directory of a repository on restic's `local` backend, or None for a remote one."""
    if url.startswith("local:"):
        return Path(url.removeprefix("local:"))
    if url.startswith(_REMOTE_SCHEMES):
        return None
    return Path(url)


class ResticRepository:
    """One repository's restic: use as a context manager (it owns temporary credential files)."""

    def __init__(self, repository: Repository, base_env: Mapping[str, str]) -> None:
        self.repository = repository
        self.label = redact_url(repository.url)
        self._base_env = dict(base_env)
        self._stack = contextlib.ExitStack()
        self._env: dict[str, str] = {}
        self._flags: list[str] = []

    def __enter__(self) -> ResticRepository:
        env = {**self._base_env, **self.repository.env, "RESTIC_REPOSITORY": self.repository.url}
        flags: list[str] = []
        ca = env.pop("CA_CERT_DATA", "")
        if ca:
            flags += ["--cacert", self._private_file(ca, ".pem")]
        key = env.pop("GOOGLE_SERVICE_ACCOUNT_JSON_KEY", "")
        if key:
            env["GOOGLE_APPLICATION_CREDENTIALS"] = self._private_file(key, ".json")
        if self.repository.insecure_tls:
            flags.append("--insecure-tls")
        self._env, self._flags = env, flags
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _private_file(self, content: str, suffix: str) -> str:
        handle = tempfile.NamedTemporaryFile("w", suffix=suffix, delete=False)  # noqa: SIM115
        with handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(content)
        self._stack.callback(os.unlink, handle.name)
        return handle.name

    def command(self, *args: str) -> list[str]:
        """The restic argument vector for `args` (global flags first; never a secret)."""
        return [RESTIC, *self._flags, *args]

    def run(self, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        """Run restic; raise ResticError (one sentence) on a non-zero exit."""
        done = subprocess.run(
            self.command(*args),
            env=self._env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise self.error(done.stderr)
        return done

    def error(self, stderr: str) -> ResticError:
        """The exception for a failed restic call with this stderr."""
        message = explain(stderr, f"repository {self.repository.name}")
        if message.startswith("snapshot not found"):
            return SnapshotNotFound(message)
        return ResticError(message)

    def init(self) -> bool:
        """Create the repository; True if created, False if it existed and the password opens it."""
        done = subprocess.run(
            self.command("init"),
            env=self._env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        if done.returncode == 0:
            return True
        if "already exists" not in done.stderr and "already initialized" not in done.stderr:
            raise self.error(done.stderr)
        self.run("cat", "config")  # proves the password opens the existing repository
        return False

    def snapshots(self, tags: Sequence[str] = ()) -> list[Snapshot]:
        """All snapshots (those carrying every tag in `tags`), oldest first."""
        args = ["snapshots", "--json", "--no-lock"]
        if tags:
            args += ["--tag", ",".join(tags)]
        listed = json.loads(self.run(*args).stdout or "[]")
        return sorted((Snapshot.from_json(item) for item in listed or []), key=lambda s: s.time)

    def resolve(self, snapshot: str) -> Snapshot:
        """The snapshot named by a full id, a short id prefix, or `latest` (newest)."""
        listed = self.snapshots()
        if snapshot == "latest":
            if not listed:
                raise SnapshotNotFound(f"repository {self.repository.name} has no snapshots")
            return listed[-1]
        matches = [item for item in listed if item.id.startswith(snapshot.lower())]
        if len(matches) != 1 or not snapshot:
            problem = "is ambiguous" if len(matches) > 1 else "not found"
            raise SnapshotNotFound(
                f"snapshot {snapshot!r} {problem} in repository {self.repository.name}"
            )
        return matches[0]

    def _output(self, *args: str) -> bytes:
        """stdout (bytes) of a read-only restic command run without a lock."""
        done = subprocess.run(
            self.command("--no-lock", *args),
            env=self._env,
            capture_output=True,
            stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            raise self.error(done.stderr.decode(errors="replace"))
        return done.stdout

    def forget(self, snapshot_ids: Sequence[str], prune: bool = True) -> None:
        """Forget exactly these snapshots (and prune their data)."""
        if snapshot_ids:
            self.run("forget", *(["--prune"] if prune else []), *snapshot_ids)

    def unlock_stale(self) -> None:
        """Remove stale locks only (restic's rule: a live process's lock is kept).

        A local repository whose `locks/` directory is empty has nothing to remove, so the
        restic process (about 0.5 s: it opens the repository and derives the key) is skipped.
        """
        directory = local_directory(self.repository.url)
        if directory is not None:
            with contextlib.suppress(OSError):  # no such directory: let restic say what is wrong
                if not any((directory / "locks").iterdir()):
                    return
        self.run("unlock")

    def may_hold_snapshots(self) -> bool:
        """False only when the repository surely has none: a local one with an empty
        `snapshots/` directory (asking restic would cost about 0.5 s)."""
        directory = local_directory(self.repository.url)
        if directory is None:
            return True
        try:
            return any((directory / "snapshots").iterdir())
        except OSError:
            return True  # let restic say what is wrong

    def full_snapshot_id(self, short_id: str, run_tag: str) -> str | None:
        """The full id of the snapshot this run's restic reported as `short_id` (restic 0.14
        prints only 8 hex digits), or None if it is not there.

        In a local repository the snapshot's file name is its full id, so a directory listing
        answers without a second restic process (about 0.5 s: repository open and key
        derivation); elsewhere, or if two ids share the prefix, restic lists the snapshots
        carrying the run tag.
        """
        if len(short_id) >= 8:
            directory = local_directory(self.repository.url)
            if directory is not None:
                with contextlib.suppress(OSError):
                    found = [
                        entry.name
                        for entry in os.scandir(directory / "snapshots")
                        if entry.name.startswith(short_id)
                    ]
                    if len(found) == 1:
                        return found[0]
        matches = [s.id for s in self.snapshots(tags=[run_tag]) if s.id.startswith(short_id)]
        return matches[0] if len(matches) == 1 else None

    def check(self, read_data: bool = False) -> None:
        """`restic check`; raises ResticError with restic's finding when the repository is bad."""
        args = ["check", *(["--read-data"] if read_data else [])]
        done = subprocess.run(
            self.command(*args),
            env=self._env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            problems = [
                line.strip()
                for line in (done.stdout + "\n" + done.stderr).splitlines()
                if line.strip().lower().startswith(("error", "fatal", "pack", "tree", "blob"))
            ]
            if "wrong password" in done.stderr.lower() or not problems:
                raise self.error(done.stderr)
            raise ResticError(
                f"repository {self.repository.name} is damaged: {problems[0].rstrip('.:')}"
            )

    def start_backup(
        self, tags: Sequence[str], host: str, stdout: IO[bytes], stderr: IO[bytes]
    ) -> subprocess.Popen[bytes]:
        """Start `restic backup --stdin` behind the stream gate (`executor.stream_gate`); the
        caller writes the stream to the returned process's stdin. restic commits only a stream
        that ends with its trailer; SIGTERM to the process stops restic uncommitted.

        Output goes to files, not pipes, so restic never blocks on a status line nobody reads.
        """
        args = ["backup", "--stdin", "--stdin-filename", STREAM_FILENAME, "--json", "--host", host]
        for tag in tags:
            args += ["--tag", tag]
        return subprocess.Popen(
            [sys.executable, "-m", "executor.stream_gate", *self.command(*args)],
            env=self._env,
            stdin=subprocess.PIPE,
            stdout=stdout,
            stderr=stderr,
            # an executor killed outright: the gate then sees its input end without a trailer
            preexec_fn=_stop_gate_on_death,
        )

    def start_dump(
        self, snapshot: str, tags: Sequence[str] = (), host: str = "", lock: bool = True
    ) -> subprocess.Popen[bytes]:
        """Start `restic dump` of a snapshot's stream to the process's stdout (stderr is a
        pipe too). `snapshot` may be "latest", then narrowed to snapshots carrying every tag in
        `tags` and made on `host`. Without `lock`, a reader that is killed leaves no lock."""
        args = [] if lock else ["--no-lock"]
        args += ["dump", *(["--tag", ",".join(tags)] if tags else [])]
        args += [*(["--host", host] if host else []), snapshot, "/" + STREAM_FILENAME]
        return subprocess.Popen(
            self.command(*args),
            env=self._env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    @contextlib.contextmanager
    def open_stream(self, snapshot_id: str) -> Iterator[IO[bytes]]:
        """Read the dump stream of a snapshot (`restic dump`), raising ResticError if it fails.

        Reading stops early without error if the caller leaves before the end.
        """
        process = self.start_dump(snapshot_id)
        assert process.stdout is not None and process.stderr is not None
        finished = stopped_early = False
        try:
            yield process.stdout
            finished = True
        finally:
            if not finished or process.stdout.read(1):
                stopped_early = True
                process.kill()  # the reader left before the end: the rest is not needed
            process.stdout.close()
            stderr = process.stderr.read().decode(errors="replace")
            process.stderr.close()
            code = process.wait()
        if not stopped_early and code != 0:
            raise self.error(stderr)
