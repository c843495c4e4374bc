"""Executor throughput: dump (+ restic upload) and restore of a 101k-znode tree, against
zk-shell 1.3.4 `cp` (the peer) and a bare multiRead reader (the ceiling), in the same run.

Tree: 1,000 parents x 100 children, 100-byte values (101,001 znodes incl. the root), on a
standalone Debian ZooKeeper; restores go to a second server. Several runs, median.

    .venv/bin/python -m bench.bench_executor [--runs 3] [--peer-runs 2]
    .venv/bin/python -m bench.bench_executor --large      # peak RSS: 1M-znode dump, backups

Measured:
- dump+upload: `executor backup --zookeeper … --repository <local restic repo>` (whole CLI:
  process start, dump, stream gate + restic backup --stdin, snapshot verification) into a
  repository holding earlier snapshots of the same tree (the scheduled case: ACLs of unchanged
  nodes come from the latest one); also into an empty repository (a first backup) and with
  `--read-all-acls`, which both ask ZooKeeper for every ACL;
- dump only: `executor.dump.dump()` into a null sink;
- bare reader: multiRead getData/getChildren BFS, batch 1,000, 8 in flight, no ACLs, no output;
- bare reader + ACLs: the same plus one getACL per node, on three bulk-read sessions;
- zk-shell dump: `cp /bench json://…/ true true true` (recursive, overwrite, asynchronous);
- restore: `executor.restore.restore()` from the dump file (verify pass + apply pass);
- zk-shell restore: `cp json://…/ /target true true true`.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from kazoo.client import KazooClient

from executor.dump import DumpOptions, dump
from executor.restore import RestoreOptions, restore
from executor.zk.connection import ZkConnectionSettings
from executor.zk.multiread import GET_CHILDREN, GET_DATA, DataResult, multi_read_async
from executor.zk.rawsession import RawSession
from tests.infra.zookeeper import SUPER_PASSWORD, SUPER_USER, ZooKeeperServer

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
TREE = "/bench"


def settings_for(server: ZooKeeperServer) -> ZkConnectionSettings:
    return ZkConnectionSettings(server.hosts, "digest", SUPER_USER, SUPER_PASSWORD)


def client_for(server: ZooKeeperServer) -> KazooClient:
    client = KazooClient(server.hosts, auth_data=[("digest", f"{SUPER_USER}:{SUPER_PASSWORD}")])
    client.start()
    return client


def seed(server: ZooKeeperServer, parents: int, children: int, value_bytes: int) -> int:
    """Create TREE with parents x children nodes of random base64 values; returns the count."""
    rng = random.Random(7)
    raw = max(1, value_bytes * 3 // 4)
    client = client_for(server)
    try:
        client.create(TREE)
        pending = []
        for p in range(parents):
            transaction = client.transaction()
            transaction.create(f"{TREE}/p{p:04d}", b"")
            for c in range(children):
                value = base64.b64encode(rng.randbytes(raw))[:value_bytes]
                transaction.create(f"{TREE}/p{p:04d}/c{c:04d}", value)
            pending.append(transaction.commit_async())
            if len(pending) >= 4:
                pending.pop(0).get()
        for result in pending:
            result.get()
    finally:
        client.stop()
        client.close()
    return 1 + parents * (children + 1)


def bare_multiread(server: ZooKeeperServer, batch: int = 1000, window: int = 8) -> int:
    """Ceiling: BFS with multiRead getData (all) + getChildren (parents); nothing kept."""
    client = client_for(server)
    try:
        level, count = [TREE], 0
        while level:
            next_level: list[str] = []
            batches = [level[i : i + batch] for i in range(0, len(level), batch)]
            in_flight: list = []
            for paths in batches:
                in_flight.append((paths, multi_read_async(client, [(GET_DATA, p) for p in paths])))
                if len(in_flight) >= window:
                    count += _expand(client, *in_flight.pop(0), next_level)
            for paths, result in in_flight:
                count += _expand(client, paths, result, next_level)
            level = next_level
        return count
    finally:
        client.stop()
        client.close()


def bare_multiread_with_acls(server: ZooKeeperServer, batch: int = 1000, window: int = 8) -> int:
    """Ceiling with ACL fidelity: the same BFS on three bulk-read sessions, each batch's
    multiRead plus one getACL per node in a single write (what the dump must read at least)."""
    settings = settings_for(server)
    sessions = [RawSession(settings) for _ in range(3)]
    try:
        level, count, turn = [TREE], 0, 0
        while level:
            next_level: list[str] = []
            in_flight: list = []
            for start in range(0, len(level), batch):
                paths = level[start : start + batch]
                session = sessions[turn % 3]
                turn += 1
                requests = [session.multi_read_request([(GET_DATA, p) for p in paths])]
                requests += [session.get_acl_request(p) for p in paths]
                in_flight.append((session, paths, session.submit(requests)))
                if len(in_flight) >= window:
                    count += _expand_raw(*in_flight.pop(0), next_level)
            for item in in_flight:
                count += _expand_raw(*item, next_level)
            level = next_level
        return count
    finally:
        for session in sessions:
            session.close()


def _expand_raw(session: RawSession, paths: list[str], ticket, next_level: list[str]) -> int:
    data, *_acls = session.collect(ticket)
    parents = [p for p, r in zip(paths, data, strict=True) if _has_children(r)]
    if parents:
        request = session.multi_read_request([(GET_CHILDREN, p) for p in parents])
        (listing,) = session.collect(session.submit([request]))
        for parent, names in zip(parents, listing, strict=True):
            next_level.extend(f"{parent}/{name}" for name in names)
    return len(paths)


def _has_children(result: object) -> bool:
    return isinstance(result, DataResult) and result.stat.numChildren > 0


def _expand(client: KazooClient, paths: list[str], result, next_level: list[str]) -> int:
    data = result.get()
    parents = [
        p
        for p, r in zip(paths, data, strict=True)
        if isinstance(r, DataResult) and r.stat.numChildren
    ]
    if parents:
        listing = multi_read_async(client, [(GET_CHILDREN, p) for p in parents]).get()
        for parent, names in zip(parents, listing, strict=True):
            next_level.extend(f"{parent}/{name}" for name in names)
    return len(paths)


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def zk_shell(hosts: str, command: str, home: str) -> None:
    """Run one zk-shell command (its config goes to a scratch HOME)."""
    subprocess.run(
        [str(VENV_BIN / "zk-shell"), hosts, "--run-once", command],
        check=True,
        env={**os.environ, "HOME": home},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def json_url(path: Path) -> str:
    return "json://" + str(path).replace("/", "!") + "/"


def executor_backup(hosts: str, repository: Path, env: dict[str, str], *extra: str) -> None:
    subprocess.run(
        [str(VENV_BIN / "executor"), "backup", "--zookeeper", hosts, "--auth", "digest",
         "--repository", str(repository), "--root", TREE, "--log-format", "json", *extra],
        check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def init_repository(repository: Path, env: dict[str, str]) -> None:
    subprocess.run(
        [str(VENV_BIN / "executor"), "init-repository", "--repository", str(repository)],
        check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def dump_into_restic(settings: ZkConnectionSettings, repository: Path, env: dict) -> None:
    """`dump()` piped straight into `restic backup --stdin` (no CLI around it)."""
    restic = subprocess.Popen(
        ["restic", "-r", str(repository), "backup", "--stdin", "--stdin-filename", "dump",
         "--quiet"],
        stdin=subprocess.PIPE, env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    assert restic.stdin is not None
    with restic.stdin:
        dump(settings, DumpOptions(root=TREE), restic.stdin)
    if restic.wait() != 0:
        raise RuntimeError("restic backup failed")


def median(values: list[float]) -> float:
    return statistics.median(values)


def run_standard(args: argparse.Namespace) -> dict[str, float]:
    scratch = Path(tempfile.mkdtemp(prefix="zkstash-bench-"))
    env = {
        **os.environ,
        "RESTIC_PASSWORD": "bench-password",
        "RESTIC_CACHE_DIR": str(scratch / "restic-cache"),
        "ZK_USERNAME": SUPER_USER,
        "ZK_PASSWORD": SUPER_PASSWORD,
    }
    repository = scratch / "repo"
    init_repository(repository, env)
    source = ZooKeeperServer(heap="1g").start()
    target = ZooKeeperServer(heap="2g").start()
    try:
        znodes = seed(source, args.parents, args.children, args.value_bytes)
        settings = settings_for(source)
        stream_file = scratch / "dump.zkstash"
        with open(stream_file, "wb") as out:
            summary = dump(settings, DumpOptions(root=TREE), out)
        assert summary.znodes == znodes, (summary.znodes, znodes)
        times: dict[str, list[float]] = {k: [] for k in (
            "dump+upload", "first backup", "read all ACLs", "dump | restic", "dump",
            "bare multiRead", "bare + ACLs", "restore",
            "zk-shell dump", "zk-shell restore")}  # fmt: skip
        for run in range(args.runs):
            times["bare multiRead"].append(timed(lambda: bare_multiread(source)))
            times["bare + ACLs"].append(timed(lambda: bare_multiread_with_acls(source)))
            times["dump"].append(timed(lambda: dump(settings, DumpOptions(root=TREE), _NullSink())))
            times["dump+upload"].append(
                timed(lambda: executor_backup(source.hosts, repository, env))
            )
            empty = scratch / f"empty{run}"
            init_repository(empty, env)
            times["first backup"].append(
                timed(lambda e=empty: executor_backup(source.hosts, e, env))
            )
            times["read all ACLs"].append(
                timed(lambda: executor_backup(source.hosts, repository, env, "--read-all-acls"))
            )
            times["dump | restic"].append(
                timed(lambda: dump_into_restic(settings, repository, env))
            )
            target_root = f"/restored{run}"
            times["restore"].append(
                timed(
                    lambda root=target_root: restore(
                        settings_for(target),
                        lambda: stream_file.open("rb"),
                        RestoreOptions(target_root=root),
                    )
                )
            )
        for run in range(args.peer_runs):
            out_json = scratch / f"zkshell{run}.json"
            times["zk-shell dump"].append(
                timed(lambda p=out_json: zk_shell(
                    source.hosts, f"cp {TREE} {json_url(p)} true true true", str(scratch)))
            )  # fmt: skip
            times["zk-shell restore"].append(
                timed(lambda p=out_json, r=run: zk_shell(
                    target.hosts, f"cp {json_url(p)} /zkshell{r} true true true", str(scratch)))
            )  # fmt: skip
        _check_restored(source, target, f"/p{args.parents - 1:04d}/c{args.children - 1:04d}")
        return {"znodes": znodes, "stream_bytes": summary.bytes} | {
            k: median(v) for k, v in times.items()
        }
    finally:
        source.stop()
        target.stop()
        subprocess.run(["rm", "-rf", str(scratch)], check=False)


def _check_restored(source: ZooKeeperServer, target: ZooKeeperServer, relative: str) -> None:
    """The last node of the tree has the same value in the source and in /restored0."""
    values = []
    for server, root in ((source, TREE), (target, "/restored0")):
        client = client_for(server)
        try:
            values.append(client.get(root + relative)[0])
        finally:
            client.stop()
            client.close()
    assert values[0] == values[1], "restored value differs from the source"


class _NullSink(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, chunk) -> int:
        return len(chunk)


def report(result: dict[str, float], args: argparse.Namespace) -> str:
    n = result["znodes"]
    rows = [
        ("dump+upload: `executor backup` → local repo holding earlier snapshots", "dump+upload"),
        ("the same into an empty repository (first backup: every ACL read)", "first backup"),
        ("the same with `--read-all-acls` (earlier snapshot ignored)", "read all ACLs"),
        ("`dump()` piped into `restic backup --stdin`", "dump | restic"),
        ("dump only (`dump()` → null sink)", "dump"),
        ("bare multiRead reader (ceiling, no ACLs, no output)", "bare multiRead"),
        ("bare reader + getACL per node (ceiling with ACLs, no output)", "bare + ACLs"),
        ("zk-shell 1.3.4 `cp` → JSON (peer)", "zk-shell dump"),
        ("restore (`restore()` from the dump file, verify + apply)", "restore"),
        ("zk-shell 1.3.4 `cp` JSON → ZooKeeper (peer)", "zk-shell restore"),
    ]
    lines = [
        f"{n:,} znodes, stream {result['stream_bytes'] / 1e6:.1f} MB; "
        f"median of {args.runs} runs (zk-shell: {args.peer_runs})",
        "",
        "| what | seconds | znodes/s |",
        "|---|---|---|",
    ]
    lines += [f"| {label} | {result[key]:.2f} | {n / result[key]:,.0f} |" for label, key in rows]
    lines += [
        "",
        "- dump+upload vs zk-shell dump: "
        f"**{result['zk-shell dump'] / result['dump+upload']:.1f}×** (first backup: "
        f"{result['zk-shell dump'] / result['first backup']:.1f}×, every ACL read: "
        f"{result['zk-shell dump'] / result['read all ACLs']:.1f}×)",
        f"- dump+upload vs bare reader: **{result['bare multiRead'] / result['dump+upload']:.0%}**"
        f" (dump only: {result['bare multiRead'] / result['dump']:.0%})",
        f"- dump only vs bare reader + getACL: **{result['bare + ACLs'] / result['dump']:.0%}**",
        f"- restore vs zk-shell restore: **{result['zk-shell restore'] / result['restore']:.1f}×**",
    ]
    return "\n".join(lines)


LARGE_DUMP = """
import sys
from executor.dump import DumpOptions, dump
from executor.zk.connection import ZkConnectionSettings
out = open("/dev/null", "wb")
s = dump(ZkConnectionSettings(sys.argv[1], "digest", sys.argv[2], sys.argv[3]),
         DumpOptions(root="/bench"), out)
print(s.znodes, s.bytes)
"""


# `executor backup` in this process, then its own peak RSS (not restic's) into argv[1]
LARGE_BACKUP = """
import resource, sys
from pathlib import Path
from executor.cli import main
code = main(sys.argv[2:])
Path(sys.argv[1]).write_text(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
sys.exit(code)
"""


def backup_peak_rss(hosts: str, repository: Path, env: dict[str, str]) -> tuple[float, int]:
    """Seconds and peak RSS (KiB) of the executor process of one `executor backup`."""
    peak_file = repository.parent / "peak-rss"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", LARGE_BACKUP, str(peak_file), "backup", "--zookeeper", hosts,
         "--auth", "digest", "--repository", str(repository), "--root", TREE,
         "--log-format", "json"],
        check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - started, int(peak_file.read_text())


def run_large(args: argparse.Namespace) -> str:
    """Peak RSS of a dump of 1,000 x 1,000 znodes (run in a child process, ru_maxrss), and of
    the executor process of a first and a second `executor backup` of it (the second holds
    the ACLs known from the first in memory)."""
    scratch = Path(tempfile.mkdtemp(prefix="zkstash-bench-"))
    env = {**os.environ, "RESTIC_PASSWORD": "bench-password",
           "RESTIC_CACHE_DIR": str(scratch / "restic-cache"),
           "ZK_USERNAME": SUPER_USER, "ZK_PASSWORD": SUPER_PASSWORD}  # fmt: skip
    try:
        with ZooKeeperServer(heap="3g") as server:
            znodes = seed(server, 1000, 1000, 100)
            started = time.perf_counter()
            child = subprocess.Popen(
                [sys.executable, "-c", LARGE_DUMP, server.hosts, SUPER_USER, SUPER_PASSWORD],
                cwd=ROOT, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            output, _ = child.communicate()
            elapsed = time.perf_counter() - started
            peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            repository = scratch / "repo"
            init_repository(repository, env)
            first = backup_peak_rss(server.hosts, repository, env)
            second = backup_peak_rss(server.hosts, repository, env)
    finally:
        subprocess.run(["rm", "-rf", str(scratch)], check=False)
    dumped = output.split()[0] if output else "?"
    return (
        f"1M-znode dump: {znodes:,} znodes seeded, {dumped} dumped in {elapsed:.1f} s, "
        f"peak RSS {peak_kib / 1024:.0f} MiB (ru_maxrss of the dump process)\n"
        f"`executor backup` of it: first {first[0]:.1f} s, peak RSS {first[1] / 1024:.0f} MiB; "
        f"second (ACLs from the first) {second[0]:.1f} s, peak RSS {second[1] / 1024:.0f} MiB"
    )


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--peer-runs", type=int, default=2)
    parser.add_argument("--parents", type=int, default=1000)
    parser.add_argument("--children", type=int, default=100)
    parser.add_argument("--value-bytes", type=int, default=100)
    parser.add_argument("--large", action="store_true", help="only the 1M-znode peak RSS run")
    args = parser.parse_args(argv)
    text = run_large(args) if args.large else report(run_standard(args), args)
    print(text)
    return text


if __name__ == "__main__":
    main()
