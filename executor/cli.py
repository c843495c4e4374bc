"""`executor`: the data mover's command line (contracts §2), one function per subcommand.

Every command ends the same way: a result object (contracts §3) as the last stdout line and in
`--result-file`, and an exit code — 0 success, 1 the operation failed, 2 the input is wrong
(flags, SPEC JSON). User mistakes get one sentence, never a traceback; secret values from the
environment are scrubbed from every line the executor prints.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, NoReturn

from executor.backends import (
    Repository,
    SpecError,
    base_environment,
    parse_repository,
    parse_storage,
    prefixed_environment,
    secret_values,
)
from executor.not_before import NotBeforeError, parse_not_before, wait_until
from executor.progress import LOG_FORMATS, Reporter, human_bytes
from executor.restic import ResticError, ResticRepository, Snapshot
from executor.result import emit, finalize, one_sentence, utc_timestamp
from executor.storage_files import (
    BackendFiles,
    StorageFileError,
    ensure_backend_meta,
    register_repository,
    repository_entry,
    write_repository_file,
)
from executor.trigger import (
    LabelError,
    TriggerError,
    backup_session,
    create_backup_session,
    parse_labels,
)
from executor.trigger import endpoint_from_environment as api_endpoint
from executor.upload import RepositoryOutcome, stream_to_repositories, unlock_stale_locks

if TYPE_CHECKING:  # imported where used: `executor --help` stays quick
    from executor.dump import DumpOptions, DumpSummary
    from executor.zk.connection import ZkConnectionSettings

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

RESULT_KINDS = {
    "backup": "BackupResult",
    "restore": "RestoreResult",
    "init-storage": "InitResult",
    "init-repository": "InitResult",
    "forget": "ForgetResult",
    "verify": "VerifyResult",
    "snapshots": "SnapshotsResult",
    "trigger": "TriggerResult",
    "wipe-storage": "WipeResult",
}


class UsageError(Exception):
    """Wrong flags or arguments (exit code 2)."""


class CommandFailed(Exception):
    """The operation failed for a reason the message states (exit code 1)."""


class Terminated(BaseException):
    """SIGTERM arrived (pod deletion, Job deadline): unwind, aborting any backup in flight."""


@dataclass
class Context:
    """What every command gets: parsed flags, environment, output and the partial result."""

    args: argparse.Namespace
    environ: Mapping[str, str]
    reporter: Reporter
    result: dict[str, Any]
    # When the operation began: the result's startTime and the start of its durationSeconds
    # (a backup that waits for --not-before begins after the wait).
    started: dt.datetime


# ----------------------------------------------------------------------------- parsing


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _non_empty(value: str) -> str:
    if value == "":
        raise argparse.ArgumentTypeError("must not be empty")
    return value


def _not_before_time(value: str) -> dt.datetime:
    try:
        return parse_not_before(value)
    except NotBeforeError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--result-file", type=_non_empty, help="also write the result JSON here")
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default="auto",
        help="progress/log lines on stderr: text (TTY default) or json (default otherwise)",
    )


def _add_zookeeper(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("ZooKeeper connection")
    group.add_argument("--zookeeper", required=True, type=_non_empty, metavar="HOSTS")
    group.add_argument("--auth", choices=("none", "digest", "sasl"), default="none")
    group.add_argument("--tls", action="store_true", help="TLS with PEM data from ZK_TLS_*_DATA")
    group.add_argument("--tls-ca", type=_non_empty, metavar="FILE")
    group.add_argument("--tls-cert", type=_non_empty, metavar="FILE")
    group.add_argument("--tls-key", type=_non_empty, metavar="FILE")
    group.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS")


def _add_repository(parser: argparse.ArgumentParser, many: bool = False) -> None:
    parser.add_argument(
        "--repository",
        required=True,
        type=_non_empty,
        action="append" if many else "store",
        metavar="SPEC",
        help="restic repository string or JSON {name, storage, path, envPrefix}",
    )


def build_parser() -> argparse.ArgumentParser:
    """The `executor` argument parser with every subcommand."""
    parser = _Parser(
        prog="executor",
        description="zkstash data mover: ZooKeeper ⇄ restic (docs/executor.md)",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    backup = commands.add_parser(
        "backup",
        help="dump ZooKeeper into every repository",
        description="Dump the tree once and stream it into every --repository at the same time\n"
        "(restic backup --stdin). Exit 0 only when every repository holds a complete, verified\n"
        "snapshot; a cut stream is never kept.",
        epilog="example:\n  RESTIC_PASSWORD=… executor backup --zookeeper zk1:2181 "
        "--repository /srv/backup --exclude '/kafka/*'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_zookeeper(backup)
    _add_repository(backup, many=True)
    backup.add_argument(
        "--session", type=_non_empty, help="KubeStash session (JSON SPEC layout; snapshot tag)"
    )
    backup.add_argument("--root", default="/", type=_non_empty, help="subtree to dump (default /)")
    backup.add_argument(
        "--include", action="append", default=[], metavar="GLOB", help="only paths matching"
    )
    backup.add_argument(
        "--exclude", action="append", default=[], metavar="GLOB", help="skip matching subtrees"
    )
    backup.add_argument("--include-ephemeral", action="store_true", help="keep ephemeral nodes")
    backup.add_argument("--include-system", action="store_true", help="keep /zookeeper")
    backup.add_argument(
        "--read-all-acls",
        action="store_true",
        help="ask ZooKeeper for every ACL (default: ACLs of nodes unchanged since this "
        "backup's previous snapshot are taken from it)",
    )
    backup.add_argument(
        "--tag", action="append", default=[], type=_non_empty, metavar="T", help="restic tag"
    )
    backup.add_argument(
        "--host", type=_non_empty, metavar="NAME", help="restic host (default: first ZK host)"
    )
    backup.add_argument(
        "--not-before",
        type=_not_before_time,
        metavar="TIME",
        help="wait until this RFC 3339 time (2026-11-25T10:05:00Z) before connecting to "
        "anything: a retry's retryConfig.delay; a past time does not wait",
    )
    _add_common(backup)

    restore = commands.add_parser(
        "restore",
        help="restore a snapshot into ZooKeeper",
        description="Verify the snapshot's whole stream (trailer, sha256) before any write, then\n"
        "create parents before children. --mode decides what happens to existing nodes.",
        epilog="example:\n  RESTIC_PASSWORD=… executor restore --zookeeper zk-new:2181 "
        "--repository /srv/backup --snapshot latest --mode skip --dry-run",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_zookeeper(restore)
    _add_repository(restore)
    restore.add_argument("--session", type=_non_empty)
    restore.add_argument("--snapshot", default="latest", type=_non_empty, metavar="ID|latest")
    restore.add_argument(
        "--mode",
        choices=("skip", "overwrite", "mirror", "fail"),
        default="skip",
        help="existing nodes: keep (skip), replace data/ACL (overwrite), also delete nodes "
        "absent from the snapshot (mirror), or stop (fail); default skip",
    )
    restore.add_argument("--dry-run", action="store_true", help="count what would change only")
    restore.add_argument(
        "--target-root", type=_non_empty, metavar="PATH", help="restore under another path"
    )
    restore.add_argument(
        "--allow-redacted-acls",
        action="store_true",
        help="restore a stream whose digest ACLs the server redacted to 'user:x' (dumped by a "
        "user without ADMIN); refused by default, since such nodes end up unusable",
    )
    _add_common(restore)

    init_storage = commands.add_parser("init-storage", help="write <prefix>/metadata.yaml")
    init_storage.add_argument("--storage", required=True, type=_non_empty, metavar="JSON")
    init_storage.add_argument("--env-prefix", default="", metavar="P")
    _add_common(init_storage)

    wipe_storage = commands.add_parser(
        "wipe-storage", help="remove everything under the storage's prefix (WipeOut)"
    )
    wipe_storage.add_argument("--storage", required=True, type=_non_empty, metavar="JSON")
    wipe_storage.add_argument("--env-prefix", default="", metavar="P")
    _add_common(wipe_storage)

    init_repo = commands.add_parser("init-repository", help="restic init + repository.yaml")
    _add_repository(init_repo)
    init_repo.add_argument("--session", action="append", default=[], type=_non_empty)
    init_repo.add_argument(
        "--namespace",
        type=_non_empty,
        metavar="NS",
        help="the Repository's namespace, recorded in the storage's metadata.yaml",
    )
    _add_common(init_repo)

    forget = commands.add_parser("forget", help="forget one snapshot and prune")
    _add_repository(forget)
    forget.add_argument("--session", type=_non_empty)
    forget.add_argument("--snapshot", required=True, type=_non_empty, metavar="ID")
    _add_common(forget)

    verify = commands.add_parser("verify", help="restic check + full decode of a snapshot")
    _add_repository(verify)
    verify.add_argument("--session", type=_non_empty)
    verify.add_argument("--snapshot", default="latest", type=_non_empty, metavar="ID|latest")
    verify.add_argument("--read-data", action="store_true", help="also read every pack file")
    _add_common(verify)

    snapshots = commands.add_parser("snapshots", help="list the repository's snapshots")
    _add_repository(snapshots)
    snapshots.add_argument("--session", type=_non_empty)
    snapshots.add_argument("-o", "--output", choices=("table", "json"), default="table")
    _add_common(snapshots)

    trigger = commands.add_parser(
        "trigger",
        help="create a BackupSession (in a CronJob)",
        description="POST BackupSession <bc>-<session>-<unix seconds> with in-cluster "
        "credentials (or ZKSTASH_API_SERVER). From a workstation use `kubectl zkstash trigger`.",
    )
    trigger.add_argument("--namespace", required=True, type=_non_empty)
    trigger.add_argument("--backup-configuration", required=True, type=_non_empty)
    trigger.add_argument("--session", required=True, type=_non_empty)
    trigger.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a label of the created BackupSession (repeatable)",
    )
    _add_common(trigger)

    completion = commands.add_parser(
        "completion",
        help="print a shell completion script",
        epilog="example:\n  source <(executor completion bash)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    completion.add_argument("shell", choices=("bash", "zsh", "fish", "tcsh"))
    return parser


_EPILOG = """\
environment (secrets only ever arrive this way, never as flags):
  RESTIC_PASSWORD             repository password (or <envPrefix>RESTIC_PASSWORD per SPEC)
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, CA_CERT_DATA, GOOGLE_*, AZURE_ACCOUNT_KEY
                              storage credentials (same prefix rule)
  ZK_USERNAME, ZK_PASSWORD    ZooKeeper user for --auth digest|sasl
  ZK_TLS_CA_DATA, ZK_TLS_CERT_DATA, ZK_TLS_KEY_DATA   PEM for --tls
  ZKSTASH_API_SERVER          API server for `trigger` outside a pod

results:
  the last stdout line is the result JSON (phase, error, counts, snapshot ids); the same
  object goes to --result-file (in a pod: /dev/termination-log); progress/logs on stderr.

exit codes:
  0 success, 1 the operation failed (see the result's error), 2 wrong input.

examples:
  RESTIC_PASSWORD=… executor backup --zookeeper zk1:2181 --repository /srv/backup
  RESTIC_PASSWORD=… executor snapshots --repository /srv/backup
  RESTIC_PASSWORD=… executor restore --zookeeper zk2:2181 --repository /srv/backup --dry-run
  source <(executor completion bash)

Run `executor COMMAND --help` for a command's flags; full reference: docs/executor.md."""


def completion_script(shell: str) -> str:
    """The shell completion script of this parser (shtab, imported only here: the executor
    image does not carry it)."""
    try:
        import shtab
    except ImportError as exc:
        raise CommandFailed("shell completion needs the shtab package (pip install shtab)") from exc
    return shtab.complete(build_parser(), shell=shell)


# ----------------------------------------------------------------------------- helpers


def _repository(ctx: Context, spec: str, session: str | None) -> Repository:
    try:
        repository = parse_repository(spec, session, ctx.environ)
    except SpecError as exc:
        raise UsageError(str(exc)) from exc
    if not repository.env.get("RESTIC_PASSWORD") and not repository.env.get("RESTIC_PASSWORD_FILE"):
        prefix = _env_prefix(spec)
        raise UsageError(
            f"{prefix}RESTIC_PASSWORD is not set for repository {repository.name} "
            "(restic would otherwise read the password from standard input)"
        )
    return repository


def _env_prefix(spec: str) -> str:
    with contextlib.suppress(ValueError, AttributeError):
        return str(json.loads(spec).get("envPrefix", ""))
    return ""


@contextlib.contextmanager
def _restic(ctx: Context, repository: Repository) -> Iterator[ResticRepository]:
    with ResticRepository(repository, base_environment(ctx.environ)) as repo:
        yield repo


@contextlib.contextmanager
def zookeeper_settings(args: argparse.Namespace, environ: Mapping[str, str]) -> Iterator[Any]:
    """ZkConnectionSettings from flags and ZK_* env; TLS PEM data goes to private temp files."""
    from executor.zk.connection import ZkConnectionSettings

    username = environ.get("ZK_USERNAME") or None
    password = environ.get("ZK_PASSWORD")
    if args.auth != "none" and (not username or password is None):
        raise UsageError(f"--auth {args.auth} needs ZK_USERNAME and ZK_PASSWORD in the environment")
    with tempfile.TemporaryDirectory(prefix="zkstash-tls-") as scratch:
        files = {"ca": args.tls_ca, "cert": args.tls_cert, "key": args.tls_key}
        if args.tls:
            for part in files:
                data = environ.get(f"ZK_TLS_{part.upper()}_DATA", "")
                if data and not files[part]:
                    path = Path(scratch) / f"{part}.pem"
                    path.write_text(data)
                    path.chmod(0o600)
                    files[part] = str(path)
            if not files["ca"] and not files["cert"]:
                raise UsageError("--tls needs ZK_TLS_CA_DATA (or --tls-ca) in the environment")
        yield ZkConnectionSettings(
            hosts=args.zookeeper,
            auth=args.auth,
            username=username,
            password=password,
            tls_ca=files["ca"],
            tls_cert=files["cert"],
            tls_key=files["key"],
            timeout=args.timeout,
        )


def default_host(hosts: str) -> str:
    """restic --host default: the first ZooKeeper host name (stable across pods of a Job)."""
    first = hosts.removeprefix("zk://").split("/", 1)[0].split(",", 1)[0]
    return first.rsplit(":", 1)[0] if ":" in first else first or "zookeeper"


def _zxid(value: int) -> str:
    return f"0x{value:x}"


def _stream_json(summary: Any) -> dict[str, Any]:
    return {
        "format": getattr(summary, "format", 1),
        "znodes": summary.znodes,
        "bytes": summary.bytes,
        "sha256": summary.sha256,
    }


def _snapshot_json(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "id": snapshot.id,
        "shortId": snapshot.short_id,
        "time": snapshot.time,
        "hostname": snapshot.hostname,
        "tags": list(snapshot.tags),
    }


# ----------------------------------------------------------------------------- commands


def cmd_backup(ctx: Context) -> None:
    """Dump once, stream into every repository; exit 0 only if all hold a complete snapshot."""
    from executor.dump import DumpError, DumpOptions

    args = ctx.args
    repositories = [_repository(ctx, spec, args.session) for spec in args.repository]
    names = [repository.name for repository in repositories]
    if len(set(names)) != len(names):
        raise UsageError(f"--repository names must be unique, got {', '.join(names)}")
    options = DumpOptions(
        root=args.root,
        include=list(args.include),
        exclude=list(args.exclude),
        include_ephemeral=args.include_ephemeral,
        include_system=args.include_system,
    )
    tags = ["zkstash", *([f"session={args.session}"] if args.session else []), *args.tag]
    host = args.host or default_host(args.zookeeper)
    # the latest snapshot of the same backup (zkstash[, session=…], host): known ACLs
    previous = None if args.read_all_acls else (tags[: 2 if args.session else 1], host)
    outcomes: dict[str, RepositoryOutcome] = {}
    with contextlib.ExitStack() as stack:
        settings = stack.enter_context(zookeeper_settings(args, ctx.environ))
        opened = [stack.enter_context(_restic(ctx, repository)) for repository in repositories]
        # Everything so far only read flags and the environment; nothing is connected yet.
        if args.not_before is not None:
            _wait_for_not_before(ctx, args.not_before)
        ready: list[ResticRepository] = []
        # A crashed earlier run must not block this one.
        for repo, problem in zip(opened, unlock_stale_locks(opened), strict=True):
            if problem is None:
                ready.append(repo)
                continue
            name = repo.repository.name
            outcomes[name] = RepositoryOutcome(name, error=str(problem))
            ctx.reporter.log(str(problem), level="error", repository=name)
        ctx.result["repositories"] = [
            {"name": n, "phase": "Failed", "snapshotId": "", "bytesAdded": 0, "error": ""}
            for n in names
        ]
        if not ready:
            _fill_repositories(ctx, names, outcomes)
            raise CommandFailed(next(iter(outcomes.values())).error)
        ctx.reporter.log(
            f"dumping {args.root} from {args.zookeeper} into {len(ready)} repositories"
        )
        upload = stream_to_repositories(
            ready,
            produce=lambda out: _dump(ctx, settings, options, out, ready[0], previous),
            tags=tags,
            host=host,
            on_bytes=lambda n: ctx.reporter.update(bytes_done=n),
        )
    outcomes.update({outcome.name: outcome for outcome in upload.outcomes})
    _fill_repositories(ctx, names, outcomes)
    summary = upload.produced
    if summary is not None:
        ctx.result["zookeeper"] = {
            "zxidStart": _zxid(summary.zxid_start),
            "zxidEnd": _zxid(summary.zxid_end),
            "serverVersion": summary.server_version,
        }
        ctx.result["stream"] = _stream_json(summary)
        for warning in summary.warnings:
            ctx.reporter.log(warning, level="warning")
    error = upload.producer_error
    if isinstance(error, Terminated):
        raise error
    if error is not None:
        reason = str(error) if isinstance(error, DumpError) else f"dump failed: {error}"
        raise CommandFailed(f"{one_sentence(reason)}; no snapshot was kept")
    failed = [outcomes[n] for n in names if outcomes[n].phase != "Succeeded"]
    if failed:
        raise CommandFailed(
            f"{len(failed)} of {len(names)} repositories failed: {failed[0].name}: "
            f"{failed[0].error}"
        )
    rows = [("znodes", f"{summary.znodes:,}"), ("stream", human_bytes(summary.bytes))]
    rows += [(o.name, f"snapshot {o.snapshot_id[:8]}") for o in upload.outcomes]
    ctx.reporter.summary("backup complete", rows)


def _wait_for_not_before(ctx: Context, moment: dt.datetime) -> None:
    """Sleep until `moment` (a retry's delay); the backup, and its result, begin after it."""

    def announce(seconds: float) -> None:
        ctx.reporter.log(
            f"waiting until {moment.isoformat().replace('+00:00', 'Z')} ({seconds:.0f}s) "
            "before connecting: this retry starts after its retry delay (--not-before, "
            "retryConfig.delay)"
        )

    if wait_until(moment, announce):
        ctx.started = dt.datetime.now(dt.UTC)
        ctx.result["startTime"] = utc_timestamp(ctx.started)


def _dump(
    ctx: Context,
    settings: ZkConnectionSettings,
    options: DumpOptions,
    out: BinaryIO,
    repo: ResticRepository,
    previous: tuple[list[str], str] | None,
) -> DumpSummary:
    """Dump into `out`; with `previous` (tags, host), take the ACLs of unchanged nodes from
    that backup's latest snapshot in `repo` (`executor.known_acls`)."""
    from executor.dump import dump
    from executor.known_acls import loading

    def progress(count: int) -> None:
        ctx.reporter.update(znodes=count)

    if previous is None or not repo.may_hold_snapshots():
        return dump(settings, options, out, progress=progress)
    tags, host = previous
    reader = repo.start_dump("latest", tags=tags, host=host, lock=False)
    with loading(reader, lambda stderr: str(repo.error(stderr))) as known:
        summary = dump(settings, options, out, progress=progress, known_acls=known)
    if summary.acls_reused:
        ctx.reporter.log(
            f"{summary.acls_reused:,} of {summary.znodes:,} ACLs taken from the previous "
            f"snapshot (unchanged since); {summary.znodes - summary.acls_reused:,} read from "
            "ZooKeeper"
        )
    else:
        reason = f" ({known.problem})" if known.problem else ""
        ctx.reporter.log(f"every ACL read from ZooKeeper, none from a previous snapshot{reason}")
    return summary


def _fill_repositories(
    ctx: Context, names: Sequence[str], outcomes: Mapping[str, RepositoryOutcome]
) -> None:
    ctx.result["repositories"] = [
        {
            "name": name,
            "phase": outcomes[name].phase if name in outcomes else "Failed",
            "snapshotId": outcomes[name].snapshot_id if name in outcomes else "",
            "bytesAdded": outcomes[name].bytes_added if name in outcomes else 0,
            "error": outcomes[name].error if name in outcomes else "not attempted",
        }
        for name in names
    ]


def cmd_restore(ctx: Context) -> None:
    """Restore one snapshot (`latest` = newest) into ZooKeeper, verifying before any write."""
    from executor.restore import RestoreError, RestoreOptions, restore
    from executor.stream import StreamError

    args = ctx.args
    repository = _repository(ctx, args.repository, args.session)
    with (
        _restic(ctx, repository) as repo,
        zookeeper_settings(args, ctx.environ) as settings,
    ):
        snapshot = repo.resolve(args.snapshot)
        ctx.result["snapshotId"] = snapshot.id
        ctx.reporter.log(f"restoring snapshot {snapshot.short_id} into {args.zookeeper}")
        options = RestoreOptions(
            mode=args.mode, dry_run=args.dry_run, allow_redacted_acls=args.allow_redacted_acls
        )
        if args.target_root:
            options.target_root = args.target_root
        try:
            summary = restore(
                settings,
                lambda: repo.open_stream(snapshot.id),
                options,
                progress=lambda n: ctx.reporter.update(znodes=n),
            )
        except (RestoreError, StreamError) as exc:
            raise CommandFailed(one_sentence(str(exc))) from exc
    ctx.result["stream"] = _stream_json(summary.stream)
    ctx.result["znodes"] = {
        "created": summary.created,
        "updated": summary.updated,
        "skipped": summary.skipped,
        "deleted": summary.deleted,
        "sequencePadded": summary.sequence_padded,
    }
    ctx.result["dryRun"] = args.dry_run
    if summary.warnings:
        ctx.result["warnings"] = summary.warnings
    for warning in summary.warnings:
        ctx.reporter.log(warning, level="warning")
    rows = [(key, f"{value:,}") for key, value in ctx.result["znodes"].items()]
    ctx.reporter.summary("restore complete" + (" (dry run)" if args.dry_run else ""), rows)


def cmd_init_storage(ctx: Context) -> None:
    """Write `<prefix>/metadata.yaml` (kept if present)."""
    try:
        storage = parse_storage(ctx.args.storage)
    except SpecError as exc:
        raise UsageError(str(exc)) from exc
    files = BackendFiles(storage, prefixed_environment(ctx.environ, ctx.args.env_prefix))
    if not files.supported:
        ctx.reporter.log("provider rest holds restic repositories only; nothing to write")
        return
    written = ensure_backend_meta(files, dt.datetime.now(dt.UTC))
    ctx.result["metadataWritten"] = written
    ctx.reporter.log("metadata.yaml written" if written else "metadata.yaml already present")


def cmd_wipe_storage(ctx: Context) -> None:
    """Remove the whole backend subtree (BackupStorage `deletionPolicy: WipeOut`); idempotent."""
    try:
        storage = parse_storage(ctx.args.storage)
    except SpecError as exc:
        raise UsageError(str(exc)) from exc
    files = BackendFiles(storage, prefixed_environment(ctx.environ, ctx.args.env_prefix))
    if not files.supported:
        raise UsageError(
            "--storage.provider rest cannot be wiped by the executor (the REST server only "
            "serves restic repositories); remove the data on the server"
        )
    removed = files.wipe()
    ctx.result["removed"] = removed
    ctx.reporter.log("backend data removed" if removed else "nothing to remove: already empty")


def cmd_init_repository(ctx: Context) -> None:
    """`restic init` for every session's component (existing ones are fine), then for a JSON
    SPEC `<path>/repository.yaml` and the repository's entry in `<prefix>/metadata.yaml`."""
    args = ctx.args
    sessions: list[str | None] = list(args.session) or [None]
    created: list[str] = []
    repository = None
    for session in sessions:
        repository = _repository(ctx, args.repository, session)
        with _restic(ctx, repository) as repo:
            if repo.init():
                created.append(repository.url)
            ctx.reporter.log(
                f"repository {repository.name} ready", session=session or "", url=repo.label
            )
    ctx.result["created"] = len(created)
    if repository is not None and repository.storage is not None:
        files = BackendFiles(repository.storage, repository.env)
        if files.supported:
            now = dt.datetime.now(dt.UTC)
            key = write_repository_file(files, repository.name, repository.path, now)
            ctx.reporter.log(f"{key} written")
            entry = repository_entry(repository.name, args.namespace or "", repository.path)
            if register_repository(files, entry, now):
                ctx.reporter.log(f"{repository.name} listed in metadata.yaml")


def cmd_forget(ctx: Context) -> None:
    """Forget exactly one snapshot (full or short id) and prune its data."""
    args = ctx.args
    if args.snapshot == "latest":
        raise UsageError("--snapshot must name one snapshot id for forget, not 'latest'")
    repository = _repository(ctx, args.repository, args.session)
    with _restic(ctx, repository) as repo:
        snapshot = repo.resolve(args.snapshot)
        repo.forget([snapshot.id])
    ctx.result["snapshotId"] = snapshot.id
    ctx.reporter.log(f"snapshot {snapshot.short_id} forgotten and pruned")


def cmd_verify(ctx: Context) -> None:
    """`restic check`, then read and fully decode the snapshot's stream (trailer, sha256)."""
    from executor.stream import StreamError, verify

    args = ctx.args
    repository = _repository(ctx, args.repository, args.session)
    with _restic(ctx, repository) as repo:
        repo.check(read_data=args.read_data)
        snapshot = repo.resolve(args.snapshot)
        ctx.result["snapshotId"] = snapshot.id
        try:
            with repo.open_stream(snapshot.id) as stream:
                summary = verify(stream)
        except StreamError as exc:
            raise CommandFailed(
                f"snapshot {snapshot.short_id} does not hold a valid stream: {exc}"
            ) from exc
    ctx.result["stream"] = _stream_json(summary)
    ctx.reporter.summary(
        "verified",
        [("snapshot", snapshot.id), ("znodes", f"{summary.znodes:,}"), ("sha256", summary.sha256)],
    )


def cmd_snapshots(ctx: Context) -> None:
    """List snapshots: a table (or JSON array with -o json) on stdout before the result."""
    args = ctx.args
    repository = _repository(ctx, args.repository, args.session)
    with _restic(ctx, repository) as repo:
        listed = repo.snapshots()
    if args.output == "json":
        print(json.dumps([_snapshot_json(s) for s in listed]), flush=True)
    else:
        for snapshot in listed:
            print(
                f"{snapshot.short_id}  {snapshot.time[:19]}  {snapshot.hostname}  "
                f"{','.join(snapshot.tags)}",
                flush=True,
            )
    ctx.result["count"] = len(listed)


def cmd_trigger(ctx: Context, now: Callable[[], float] | None = None) -> None:
    """Create BackupSession `<bc>-<session>-<unix now>` through the Kubernetes API."""
    import time

    args = ctx.args
    try:
        labels = parse_labels(args.label)
    except LabelError as exc:
        raise UsageError(str(exc)) from exc
    unix = int((now or time.time)())
    body = backup_session(args.namespace, args.backup_configuration, args.session, unix, labels)
    created = create_backup_session(api_endpoint(ctx.environ), body)
    name = (created.get("metadata") or {}).get("name") or body["metadata"]["name"]
    ctx.result["backupSession"] = name
    ctx.reporter.log(f"BackupSession {args.namespace}/{name} created")


COMMANDS: dict[str, Callable[[Context], None]] = {
    "backup": cmd_backup,
    "restore": cmd_restore,
    "init-storage": cmd_init_storage,
    "init-repository": cmd_init_repository,
    "forget": cmd_forget,
    "verify": cmd_verify,
    "snapshots": cmd_snapshots,
    "trigger": cmd_trigger,
    "wipe-storage": cmd_wipe_storage,
}


# ----------------------------------------------------------------------------- main


def _command_of(argv: Sequence[str]) -> str | None:
    return next((arg for arg in argv if arg in COMMANDS), None)


def _option_of(argv: Sequence[str], name: str) -> str | None:
    """The value of `--name X` / `--name=X` without full parsing (for results on bad input)."""
    for index, arg in enumerate(argv):
        if arg == name and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def run(argv: Sequence[str], environ: Mapping[str, str], stderr: IO[str] | None = None) -> int:
    """Run one command; returns the exit code. Prints the result JSON as the last stdout line."""
    started = dt.datetime.now(dt.UTC)
    secrets = secret_values(environ)
    command = _command_of(argv)
    result: dict[str, Any] = {
        "kind": RESULT_KINDS.get(command or "", "Result"),
        "version": 1,
        "phase": "Failed",
        "error": "",
        "startTime": utc_timestamp(started),
    }
    log_format = _option_of(argv, "--log-format") or "auto"
    reporter = Reporter(log_format if log_format in LOG_FORMATS else "auto", stderr, secrets)
    result_file = _option_of(argv, "--result-file")
    code = EXIT_FAILED
    ctx: Context | None = None
    try:
        args = build_parser().parse_args(list(argv))
        if args.command == "completion":  # a script on stdout, no result object
            sys.stdout.write(completion_script(args.shell))
            return EXIT_OK
        result_file = args.result_file
        ctx = Context(args=args, environ=environ, reporter=reporter, result=result, started=started)
        COMMANDS[args.command](ctx)
        result["phase"] = "Succeeded"
        code = EXIT_OK
    except UsageError as exc:
        result["error"] = one_sentence(str(exc))
        code = EXIT_USAGE
    except (CommandFailed, ResticError, StorageFileError, TriggerError) as exc:
        result["error"] = one_sentence(str(exc))
    except Terminated:
        result["error"] = "terminated by SIGTERM before completion; nothing partial was kept"
    except KeyboardInterrupt:
        result["error"] = "interrupted before completion; nothing partial was kept"
    except SystemExit as exc:  # --help
        if exc.code in (0, None):
            return EXIT_OK
        raise
    except Exception as exc:  # a defect, not a user mistake: keep the traceback for the log
        reporter.log(traceback.format_exc(), level="error")
        result["error"] = f"internal error: {type(exc).__name__}: {one_sentence(str(exc))}"
    ended = dt.datetime.now(dt.UTC)
    result["endTime"] = utc_timestamp(ended)
    begun = ctx.started if ctx is not None else started
    result["durationSeconds"] = round((ended - begun).total_seconds(), 3)
    final = finalize(result, secrets)
    if final["error"]:
        reporter.log(final["error"], level="error")
    try:
        emit(final, result_file)
    except OSError as exc:
        reporter.log(f"cannot write the result file {result_file}: {exc.strerror}", "error")
        code = code or EXIT_FAILED
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `executor` console script."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    return run(sys.argv[1:] if argv is None else argv, os.environ)


if __name__ == "__main__":
    raise SystemExit(main())
