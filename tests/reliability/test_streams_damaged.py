"""A damaged or foreign stream offered to a restore is refused before the first write.

Every case runs a restore in `overwrite` mode into a target server that already holds the
stream's paths with other values, so any write at all would show. The whole target tree — data,
full Stat and ACL of every node — is compared before and after, and the error must name the
problem. Stream-level unit cases are in tests/executor/test_stream.py; this file adds bit flips
at every position (hypothesis), every class of cut point, reordered records, and foreign files
handed over through a real restic snapshot to the real `executor restore`.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import itertools
import json
import os
import random
import re
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kazoo.client import KazooClient
from kazoo.security import make_digest_acl

from executor.dump import DumpOptions, dump
from executor.restic import STREAM_FILENAME
from executor.restore import RestoreError, RestoreOptions, restore
from executor.stream import MAGIC, StreamError, verify
from executor.zk.connection import ZkConnectionSettings
from tests.infra.s3_fixtures import LocalResticRepository
from tests.infra.zookeeper import SUPER_PASSWORD, SUPER_USER, ZooKeeperServer
from tests.infra.zookeeper_fixtures import super_client

EXECUTOR = str(Path(sys.executable).parent / "executor")
ZK_SHELL = str(Path(sys.executable).parent / "zk-shell")
TARGET = "/app"
AREA = "Bad input: streams"

# relative path -> value of the source tree (the target holds the same paths, other values)
SOURCE_TREE = {
    "": b"root",
    "/config": b'{"replicas": 3}',
    "/config/db": b"postgres://db:5432",
    "/locks": b"",
    "/locks/lock-0000000001": b"\x00\x01\x02",
    "/queue": b"q",
}


def settings_for(server: ZooKeeperServer) -> ZkConnectionSettings:
    return ZkConnectionSettings(server.hosts, "digest", SUPER_USER, SUPER_PASSWORD)


def tree_state(client: KazooClient) -> dict[str, tuple]:
    """Every node of the server: path -> (data, full Stat, sorted ACL)."""
    state, pending = {}, ["/"]
    while pending:
        path = pending.pop()
        data, stat = client.get(path)
        acl, _ = client.get_acls(path)
        state[path] = (data, tuple(stat), sorted(acl))
        prefix = "" if path == "/" else path
        pending += [f"{prefix}/{child}" for child in client.get_children(path)]
    return state


@pytest.fixture(scope="module")
def good_stream(zookeeper: ZooKeeperServer) -> bytes:
    """A valid stream of SOURCE_TREE (with a digest ACL), dumped from the worker's server."""
    root = f"/streams-{os.getpid()}-{random.randrange(1 << 30)}"
    client = super_client(zookeeper.hosts)
    try:
        for relative, value in SOURCE_TREE.items():
            acl = [make_digest_acl("app", "pw", all=True)] if relative == "/config/db" else None
            client.create(root + relative, value, acl=acl)
        out = io.BytesIO()
        dump(settings_for(zookeeper), DumpOptions(root=root), out)
        return out.getvalue()
    finally:
        client.stop()
        client.close()


@pytest.fixture(scope="module")
def target() -> Iterator[ZooKeeperServer]:
    """A server of this module alone holding TARGET with the source's paths but other values,
    so any write of a restore (overwrite mode) would change it."""
    with ZooKeeperServer() as server:
        client = super_client(server.hosts)
        try:
            for relative in SOURCE_TREE:
                if relative != "/queue":  # one node missing: a restore would create it
                    client.create(TARGET + relative, b"local " + relative.encode())
        finally:
            client.stop()
            client.close()
        yield server


@pytest.fixture(scope="module")
def target_client(target: ZooKeeperServer) -> Iterator[KazooClient]:
    client = super_client(target.hosts)
    yield client
    client.stop()
    client.close()


def restore_bytes(target: ZooKeeperServer, stream: bytes) -> None:
    """Restore `stream` (Python API) over TARGET in overwrite mode."""
    restore(
        settings_for(target),
        lambda: contextlib.nullcontext(io.BytesIO(stream)),
        RestoreOptions(mode="overwrite", target_root=TARGET),
    )


def assert_refused(
    target: ZooKeeperServer, client: KazooClient, stream: bytes, reason: str
) -> None:
    """The restore raises naming `reason` (a regex) and the target is exactly as before."""
    before = tree_state(client)
    with pytest.raises(RestoreError, match=f"^the backup stream is damaged: .*(?:{reason})"):
        restore_bytes(target, stream)
    assert tree_state(client) == before


def test_the_undamaged_stream_would_change_the_target(good_stream: bytes) -> None:
    # the premise of every case below: this stream is valid and differs from the target
    assert verify(io.BytesIO(good_stream)).znodes == len(SOURCE_TREE)


# ---------------------------------------------------------------------------- bit flips

DAMAGE_REASONS = (
    "checksum mismatch|trailer checksum mismatch|the trailer record is damaged|"
    "malformed node record|not a zkstash stream|unsupported stream format version|"
    "stream is truncated|records out of order|lies outside the dump root|unknown record kind|"
    "record is not valid JSON|record is not a JSON object|record is malformed|"
    "implausibly large|header names format|does not start with a header|second header|"
    "trailer counts do not match|unexpected data after the trailer"
)


@pytest.mark.reliability(AREA, "a flipped bit anywhere in the stream")
@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_flipped_bit_anywhere_is_refused_before_any_write(
    target: ZooKeeperServer,
    target_client: KazooClient,
    good_stream: bytes,
    record_property: Callable[[str, object], None],
    data: st.DataObject,
) -> None:
    position = data.draw(st.integers(0, len(good_stream) - 1), label="byte")
    bit = data.draw(st.integers(0, 7), label="bit")
    damaged = bytearray(good_stream)
    damaged[position] ^= 1 << bit
    assert_refused(target, target_client, bytes(damaged), DAMAGE_REASONS)
    record_property("cases", next(_flips_tried))


_flips_tried = itertools.count(1)  # examples run so far: the last value is the report's count


# ---------------------------------------------------------------------------- truncation


def record_spans(stream: bytes) -> list[tuple[str, int, int]]:
    """(kind, start, end) of every record, read from the framing alone."""
    spans, offset = [], len(MAGIC) + 2
    while offset < len(stream):
        kind, length = struct.unpack_from(">BI", stream, offset)
        spans.append((chr(kind), offset, offset + 5 + length))
        offset += 5 + length
    return spans


def cut_points(stream: bytes) -> dict[str, int]:
    """One cut position for each class of place a transfer can stop."""
    spans = record_spans(stream)
    header = spans[0]
    node = spans[2]
    trailer = spans[-1]
    return {
        "inside the magic": 3,
        "inside the format version": len(MAGIC) + 1,
        "inside the header's record head": header[1] + 2,
        "inside the header body": header[1] + 5 + 10,
        "between two records": node[1],
        "inside a node's record head": node[1] + 3,
        "inside a node's path": node[1] + 5 + 6,
        "inside a node's value": node[2] - 1,
        "before the trailer": trailer[1],
        "inside the trailer's record head": trailer[1] + 4,
        "inside the trailer body": (trailer[1] + trailer[2]) // 2,
        "one byte short of the end": len(stream) - 1,
    }


CUT_CLASSES = [
    "inside the magic",
    "inside the format version",
    "inside the header's record head",
    "inside the header body",
    "between two records",
    "inside a node's record head",
    "inside a node's path",
    "inside a node's value",
    "before the trailer",
    "inside the trailer's record head",
    "inside the trailer body",
    "one byte short of the end",
]


@pytest.mark.reliability(AREA, "a stream cut short (each class of cut point)")
@pytest.mark.parametrize("where", CUT_CLASSES)
def test_a_cut_stream_is_refused_before_any_write(
    target: ZooKeeperServer, target_client: KazooClient, good_stream: bytes, where: str
) -> None:
    cut = cut_points(good_stream)[where]
    assert_refused(target, target_client, good_stream[:cut], r"stream is truncated \(ended inside")


@pytest.mark.reliability(AREA, "a stream cut at every byte offset (verify)")
def test_every_cut_of_the_stream_fails_verification_as_truncated(
    good_stream: bytes, record_property: Callable[[str, object], None]
) -> None:
    for cut in range(1, len(good_stream)):
        with pytest.raises(StreamError, match="truncated"):
            verify(io.BytesIO(good_stream[:cut]))
    record_property("cases", len(good_stream) - 1)


# ---------------------------------------------------------------------------- reordering


def swap_records(stream: bytes, first: int, second: int) -> bytes:
    """The stream with node records number `first` and `second` (0-based) swapped."""
    nodes = [span for span in record_spans(stream) if span[0] == "N"]
    (_, a0, a1), (_, b0, b1) = nodes[first], nodes[second]
    return stream[:a0] + stream[b0:b1] + stream[a1:b0] + stream[a0:a1] + stream[b1:]


@pytest.mark.reliability(AREA, "node records reordered")
@pytest.mark.parametrize(
    ("first", "second"),
    [(0, 1), (1, 2), (2, 5), (0, 5)],
    ids=["root-after-child", "siblings", "subtree-after-sibling", "first-and-last"],
)
def test_reordered_records_are_refused_before_any_write(
    target: ZooKeeperServer,
    target_client: KazooClient,
    good_stream: bytes,
    first: int,
    second: int,
) -> None:
    assert_refused(
        target, target_client, swap_records(good_stream, first, second), "records out of order"
    )


@pytest.mark.reliability(AREA, "a node record duplicated")
def test_a_duplicated_record_is_refused_before_any_write(
    target: ZooKeeperServer, target_client: KazooClient, good_stream: bytes
) -> None:
    _, start, end = [span for span in record_spans(good_stream) if span[0] == "N"][2]
    doubled = good_stream[:end] + good_stream[start:end] + good_stream[end:]
    assert_refused(target, target_client, doubled, "records out of order")


# ------------------------------------------------- foreign files through restic and the CLI


def zk_shell_json_dump(zookeeper: ZooKeeperServer, home: Path) -> bytes:
    """What zk-shell 1.3.4 `cp /tree json://…` writes, made by the real zk-shell."""
    client = super_client(zookeeper.hosts)
    root = f"/zkshell-{os.getpid()}-{random.randrange(1 << 30)}"
    try:
        client.create(root + "/a/b", b"value", makepath=True)
    finally:
        client.stop()
        client.close()
    out = home / "zkshell.json"
    url = "json://" + str(out).replace("/", "!") + "/"
    subprocess.run(
        [ZK_SHELL, zookeeper.hosts, "--run-once", f"cp {root} {url} true true"],
        env={"PATH": os.environ["PATH"], "HOME": str(home)},
        check=True,
        capture_output=True,
        timeout=60,
    )
    return out.read_bytes()


def snapshot_of(repository: LocalResticRepository, content: bytes, scratch: Path) -> str:
    """A real restic snapshot holding `content` as the stream file; its id. (From a file, not
    stdin: restic refuses to save an empty stdin.)"""
    (scratch / STREAM_FILENAME).write_bytes(content)
    env = {
        "PATH": "/usr/bin:/bin",
        "RESTIC_REPOSITORY": str(repository.path),
        **repository.env(),
    }
    done = subprocess.run(
        ["restic", "backup", STREAM_FILENAME, "--json"],
        cwd=scratch,
        env=env,
        capture_output=True,
        check=True,
    )
    summary = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return next(s for s in repository.snapshot_ids() if s.startswith(summary["snapshot_id"]))


def executor_restore(
    target: ZooKeeperServer, repository: LocalResticRepository, snapshot: str
) -> tuple[int, dict]:
    """`executor restore --mode overwrite` of `snapshot` over TARGET: exit code and result."""
    done = subprocess.run(
        [EXECUTOR, "restore", f"--zookeeper={target.hosts}", "--auth=digest",
         f"--repository={repository.path}", f"--snapshot={snapshot}", "--mode=overwrite",
         f"--target-root={TARGET}", "--log-format=json"],
        env={"PATH": os.environ["PATH"], "ZK_USERNAME": SUPER_USER,
             "ZK_PASSWORD": SUPER_PASSWORD, **repository.env()},
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])


FOREIGN = {
    "empty file": (lambda stream, zk: b"", "the stream is empty"),
    "random bytes": (
        lambda stream, zk: random.Random(5).randbytes(4096),
        r"not a zkstash stream \(bad magic bytes\)",
    ),
    "gzip of a valid stream": (
        lambda stream, zk: gzip.compress(stream),
        r"not a zkstash stream \(bad magic bytes; it looks like gzip data\)",
    ),
    "zk-shell JSON dump": (
        lambda stream, zk: zk,
        r"not a zkstash stream \(bad magic bytes; it looks like JSON, e.g. a zk-shell dump\)",
    ),
    "format version 2": (
        lambda stream, zk: stream[:8] + b"\x00\x02" + stream[10:],
        r"unsupported stream format version 2 \(this build reads 1\)",
    ),
    "cut in half": (lambda stream, zk: stream[: len(stream) // 2], "stream is truncated"),
    "one flipped bit": (
        lambda stream, zk: stream[:200] + bytes([stream[200] ^ 4]) + stream[201:],
        DAMAGE_REASONS,
    ),
}


@pytest.fixture(scope="module")
def zk_shell_dump(zookeeper: ZooKeeperServer, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return zk_shell_json_dump(zookeeper, tmp_path_factory.mktemp("zk-shell"))


@pytest.mark.reliability(AREA, "a foreign or damaged file in a restic snapshot (executor CLI)")
@pytest.mark.parametrize("kind", list(FOREIGN))
def test_executor_restore_refuses_a_foreign_or_damaged_snapshot_before_any_write(
    target: ZooKeeperServer,
    target_client: KazooClient,
    restic_repository: LocalResticRepository,
    good_stream: bytes,
    zk_shell_dump: bytes,
    tmp_path: Path,
    kind: str,
) -> None:
    make, reason = FOREIGN[kind]
    snapshot = snapshot_of(restic_repository, make(good_stream, zk_shell_dump), tmp_path)
    before = tree_state(target_client)
    code, result = executor_restore(target, restic_repository, snapshot)
    assert tree_state(target_client) == before
    assert (code, result["phase"]) == (1, "Failed")
    assert result["error"].startswith("the backup stream is damaged: ")
    assert re.search(reason, result["error"]), result["error"]
