"""`kubectl-zkstash`: the command line (argparse), one function per subcommand.

Exit codes: 0 success, 1 the operation failed (the API refused, a Snapshot is not ready,
restic could not read the repository), 2 wrong usage (flags, arguments, unreadable files).
Errors are one line on stderr, never a traceback, never a secret value.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import yaml

from plugin import completion
from plugin.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, PluginError, UsageError
from plugin.output import OUTPUT_FORMATS, object_name, print_objects, print_table

if TYPE_CHECKING:
    from plugin.api import Resources

PROG = "kubectl-zkstash"

DESCRIPTION = """\
Day-2 commands for zkstash, the KubeStash-compatible ZooKeeper backup: back up now, pause and
resume schedules, list and download snapshots, and preview what a resource will produce.

Run as `kubectl zkstash COMMAND` (kubectl finds kubectl-zkstash on PATH) or directly."""

EPILOG = """\
cluster access (like kubectl):
  --kubeconfig FILE, else $KUBECONFIG, else ~/.kube/config, else in-cluster credentials;
  --context NAME picks a context; -n/--namespace defaults to the context's namespace
  (or "default"); -A/--all-namespaces where a command lists things.

exit codes:
  0 success, 1 the operation failed (message on stderr), 2 wrong usage.

examples:
  kubectl zkstash trigger sample-zookeeper-backup -n demo
  kubectl zkstash pause sample-zookeeper-backup -n demo
  kubectl zkstash snapshots -n demo --repository local-zookeeper-repo
  kubectl zkstash download SNAPSHOT -n demo --to ./dumps
  kubectl zkstash describe examples/local/06-backupconfiguration.yaml --with examples/local
  source <(kubectl zkstash completion bash)

Run `kubectl zkstash COMMAND --help` for each command's details."""

TRIGGER_HELP = """\
Create a BackupSession for a BackupConfiguration now, exactly as its trigger CronJob does:
named <bc>-<session>-<unix seconds> (cut to 63 characters like KubeStash), with the invoker
labels and controller-uid=<BackupConfiguration uid>, so the configuration adopts it and the
hooks run the backup Job. Follow it with `kubectl get backupsession -n NS NAME -w`.

A paused BackupConfiguration still gets the session, which is then Skipped: resume first."""

TRIGGER_EXAMPLES = """\
examples:
  # back up now (the configuration's only session)
  kubectl zkstash trigger sample-zookeeper-backup -n demo
  # a configuration with several sessions: name one
  kubectl zkstash trigger sample-zookeeper-backup -n demo --session frequent-backup
  # just the created name, for scripts
  kubectl zkstash trigger sample-zookeeper-backup -n demo -o name"""

PAUSE_HELP = """\
Set spec.paused=true on a BackupConfiguration (a JSON merge patch). The hooks suspend its
trigger CronJobs; sessions created while paused are Skipped. Nothing running is stopped."""

RESUME_HELP = """\
Set spec.paused=false on a BackupConfiguration: its trigger CronJobs run on schedule again."""

PAUSE_EXAMPLES = """\
examples:
  kubectl zkstash pause sample-zookeeper-backup -n demo
  kubectl get cronjob -n demo      # SUSPEND shows true once the hooks synced"""

RESUME_EXAMPLES = """\
examples:
  kubectl zkstash resume sample-zookeeper-backup -n demo"""

SNAPSHOTS_HELP = """\
List Snapshots, oldest first: NAME, REPOSITORY, SESSION, TIME, SIZE, PHASE (-o wide adds the
BackupSession and the restic snapshot id). Only Succeeded ones can be restored or downloaded."""

SNAPSHOTS_EXAMPLES = """\
examples:
  kubectl zkstash snapshots -n demo
  kubectl zkstash snapshots -A -o wide
  kubectl zkstash snapshots -n demo --repository local-zookeeper-repo
  kubectl zkstash snapshots -n demo -o json | jq -r '.items[].metadata.name'"""

DOWNLOAD_HELP = """\
Download a Snapshot's zkstash stream (the whole dumped tree: data, ACLs, stats) to a local
file DIR/<snapshot>.zkdump, verified (record count and sha256) before it is kept.

It follows Snapshot -> Repository -> BackupStorage, reads the storage's credentials Secret and
the Repository's encryptionSecret through the API (you need `get` on Secrets there), and runs
`restic dump` here with them in restic's environment only: no secret appears in arguments or
output. Needs restic on PATH and network access to the storage (s3/gcs/azure), or the local
backend's directory (local provider). Restore the file with `executor restore` elsewhere, or
inspect it with `python -m executor.stream`-based tooling."""

DOWNLOAD_EXAMPLES = """\
examples:
  kubectl zkstash snapshots -n demo                         # pick a Succeeded snapshot
  kubectl zkstash download SNAPSHOT -n demo --to ./dumps    # writes ./dumps/SNAPSHOT.zkdump
  kubectl zkstash download SNAPSHOT -n demo -o json         # file, znodes, bytes, sha256"""

DESCRIBE_HELP = """\
Offline: run the real hook functions on the custom resources in FILE and print, for each
BackupStorage, BackupConfiguration, BackupSession, Repository, Snapshot or RestoreSession,
the children it would get and the status (phase, conditions) it would report on its first
sync. Related objects (Secrets, BackupStorages, RetentionPolicies, AppBindings, the
zookeeper-addon Addon and Functions) come from FILE and --with files or folders; leave one out
to see the condition that names it. No cluster is contacted."""

DESCRIBE_EXAMPLES = """\
examples:
  # "what will this BackupConfiguration produce?"
  kubectl zkstash describe examples/local/06-backupconfiguration.yaml \\
      --with examples/local manifests/addon
  # every parent of a folder, as YAML
  kubectl zkstash describe examples/local --with manifests/addon -o yaml"""

COMPLETION_HELP = """\
Print a shell completion script for kubectl-zkstash (generated with shtab)."""

COMPLETION_EXAMPLES = """\
examples:
  source <(kubectl-zkstash completion bash)                 # bash, this shell
  kubectl-zkstash completion bash > /etc/bash_completion.d/kubectl-zkstash
  kubectl-zkstash completion zsh > "${fpath[1]}/_kubectl-zkstash"
  kubectl-zkstash completion fish > ~/.config/fish/completions/kubectl-zkstash.fish"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keep the line breaks of descriptions and examples."""


def _cluster_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("cluster access")
    group.add_argument(
        "--kubeconfig",
        metavar="FILE",
        help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)",
    )
    group.add_argument(
        "--context", metavar="NAME", help="kubeconfig context (default: the current one)"
    )
    group.add_argument("-n", "--namespace", metavar="NS", help="namespace (default: the context's)")
    return options


def build_parser() -> argparse.ArgumentParser:
    """The `kubectl-zkstash` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog=PROG, description=DESCRIPTION, epilog=EPILOG, formatter_class=_Formatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    cluster = _cluster_options()

    def command(
        name: str, summary: str, description: str, examples: str, with_cluster: bool = True
    ) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=summary,
            description=description,
            epilog=examples,
            formatter_class=_Formatter,
            parents=[cluster] if with_cluster else [],
        )

    trigger = command(
        "trigger", "create a BackupSession now (back up now)", TRIGGER_HELP, TRIGGER_EXAMPLES
    )
    trigger.add_argument("backup_configuration", metavar="BACKUPCONFIGURATION")
    trigger.add_argument(
        "--session", metavar="NAME", help="which spec.sessions[].name (optional when there is one)"
    )
    trigger.add_argument(
        "-o", "--output", choices=("yaml", "json", "name"), help="print the created BackupSession"
    )

    for name, summary, description, examples in (
        ("pause", "suspend a BackupConfiguration's schedules", PAUSE_HELP, PAUSE_EXAMPLES),
        ("resume", "resume a paused BackupConfiguration", RESUME_HELP, RESUME_EXAMPLES),
    ):
        sub = command(name, summary, description, examples)
        sub.add_argument("backup_configuration", metavar="BACKUPCONFIGURATION")
        sub.add_argument(
            "-o", "--output", choices=("yaml", "json", "name"), help="print the patched object"
        )

    snapshots = command("snapshots", "list Snapshots", SNAPSHOTS_HELP, SNAPSHOTS_EXAMPLES)
    snapshots.add_argument("--repository", metavar="NAME", help="only Snapshots of this Repository")
    snapshots.add_argument(
        "-A", "--all-namespaces", action="store_true", help="Snapshots of every namespace"
    )
    snapshots.add_argument(
        "-o", "--output", choices=OUTPUT_FORMATS, help="yaml, json, name, or wide (more columns)"
    )

    download = command(
        "download", "download a Snapshot's stream file", DOWNLOAD_HELP, DOWNLOAD_EXAMPLES
    )
    download.add_argument("snapshot", metavar="SNAPSHOT")
    download.add_argument(
        "--to", metavar="DIR", default=".", help="folder to write SNAPSHOT.zkdump in (default: .)"
    )
    download.add_argument(
        "-o", "--output", choices=("json",), help="json: file, znodes, bytes, sha256"
    )

    describe = command(
        "describe",
        "preview the children and status of resources in a file (offline)",
        DESCRIBE_HELP,
        DESCRIBE_EXAMPLES,
        with_cluster=False,
    )
    describe.add_argument(
        "files",
        metavar="FILE",
        nargs="+",
        help="YAML file or folder with the resources to describe",
    )
    describe.add_argument(
        "--with",
        dest="with_files",
        metavar="FILE",
        nargs="+",
        default=[],
        help="YAML files or folders with related objects",
    )
    describe.add_argument(
        "-n",
        "--namespace",
        metavar="NS",
        default="default",
        help="namespace for objects that name none (default: default)",
    )
    describe.add_argument(
        "-o", "--output", choices=("yaml", "json"), help="the children and status in full"
    )

    complete = command(
        "completion",
        "print a shell completion script",
        COMPLETION_HELP,
        COMPLETION_EXAMPLES,
        with_cluster=False,
    )
    complete.add_argument("shell", choices=completion.SHELLS)
    return parser


# ----------------------------------------------------------------------------- commands


def _resources(args: argparse.Namespace) -> tuple[Resources, str]:
    # Imported here: the kubernetes client takes a second to import, which `describe`,
    # `completion` and `--help` do not need.
    from plugin.api import Resources
    from plugin.kubeconfig import connect

    cluster = connect(args.kubeconfig, args.context)
    return Resources(cluster.api), args.namespace or cluster.namespace


def cmd_trigger(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    """Create a BackupSession now."""
    from plugin.trigger import trigger

    resources, namespace = _resources(args)
    done = trigger(resources, namespace, args.backup_configuration, args.session)
    if done.paused:
        print(
            f"warning: BackupConfiguration {namespace}/{args.backup_configuration} is paused: "
            "the session will be Skipped (kubectl zkstash resume first)",
            file=err,
        )
    if args.output:
        print_objects([done.backup_session], args.output, out)
    else:
        print(f"{object_name(done.backup_session)} created", file=out)


def _set_paused(args: argparse.Namespace, out: TextIO, paused: bool) -> None:
    from plugin.pause import set_paused

    resources, namespace = _resources(args)
    patched = set_paused(resources, namespace, args.backup_configuration, paused)
    if args.output:
        print_objects([patched], args.output, out)
    else:
        print(f"{object_name(patched)} {'paused' if paused else 'resumed'}", file=out)


def cmd_pause(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    """spec.paused = true."""
    _set_paused(args, out, True)


def cmd_resume(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    """spec.paused = false."""
    _set_paused(args, out, False)


def cmd_snapshots(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    """List Snapshots as a table or objects."""
    from plugin.snapshots import list_snapshots, table_rows

    resources, namespace = _resources(args)
    where = None if args.all_namespaces else namespace
    found = list_snapshots(resources, where, args.repository)
    if args.output in ("yaml", "json"):
        document = {"apiVersion": "v1", "kind": "List", "metadata": {}, "items": found}
        print(
            json.dumps(document, indent=4)
            if args.output == "json"
            else yaml.safe_dump(document).rstrip(),
            file=out,
        )
    elif args.output == "name":
        print_objects(found, "name", out)
    elif not found:
        print(f"No Snapshots found{'' if where is None else f' in {where} namespace'}.", file=err)
    else:
        print_table(*table_rows(found, args.all_namespaces, args.output == "wide"), out)


def cmd_download(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    """Download and verify one Snapshot's stream."""
    from plugin.download import download, resolve

    resources, namespace = _resources(args)
    source = resolve(resources, namespace, args.snapshot)
    done = download(source, Path(args.to))
    if args.output == "json":
        print(json.dumps(done.to_json()), file=out)
    else:
        print(
            f"{done.path} ({done.znodes} znodes, {done.bytes} bytes, sha256 {done.sha256})",
            file=out,
        )


def cmd_describe(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    """Run the hooks offline on FILE."""
    from plugin.describe import describe, render

    outcomes = describe(args.files, args.with_files, args.namespace)
    if args.output:
        documents = [o.to_json() for o in outcomes]
        print(
            json.dumps(documents, indent=2)
            if args.output == "json"
            else yaml.safe_dump_all(documents, sort_keys=False).rstrip(),
            file=out,
        )
        return
    print("\n\n".join("\n".join(render(o)) for o in outcomes), file=out)


def cmd_completion(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    """Print a completion script."""
    out.write(completion.script(build_parser(), args.shell))


COMMANDS: dict[str, Callable[[argparse.Namespace, TextIO, TextIO], None]] = {
    "trigger": cmd_trigger,
    "pause": cmd_pause,
    "resume": cmd_resume,
    "snapshots": cmd_snapshots,
    "download": cmd_download,
    "describe": cmd_describe,
    "completion": cmd_completion,
}


def run(argv: Sequence[str], out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Run one command; returns the exit code."""
    try:
        args = build_parser().parse_args(list(argv))
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2, message printed)
        return int(exit_.code or 0)
    try:
        COMMANDS[args.command](args, out, err)
    except UsageError as error:
        print(f"error: {error}", file=err)
        return EXIT_USAGE
    except PluginError as error:
        print(f"error: {error}", file=err)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("error: interrupted", file=err)
        return EXIT_FAILED
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `kubectl-zkstash` console script."""
    return run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
