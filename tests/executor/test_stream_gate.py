"""The stream gate: real restic behind it commits a complete stream and nothing else — not a
stream cut short, not one whose gate was told to stop or was killed outright."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time

import pytest

from executor.restic import STREAM_FILENAME
from executor.stream import AclEntry, NodeRecord, StreamHeader, StreamWriter
from executor.stream_gate import REFUSED, REFUSED_MESSAGE
from tests.infra.s3_fixtures import LocalResticRepository

STAT = (1, 2, 3, 4, 5, 6, 7, 0, 3, 0, 9)
OPEN = (AclEntry(31, "world", "anyone"),)


def complete_stream(nodes: int = 200, value_bytes: int = 5_000) -> bytes:
    out = io.BytesIO()
    writer = StreamWriter(out, StreamHeader(root="/"))
    writer.node(NodeRecord("/", None, STAT, OPEN, 0, 0))
    for i in range(nodes):
        value = i.to_bytes(4, "big") * (value_bytes // 4)
        writer.node(NodeRecord(f"/n{i:04d}", value, STAT, OPEN, 0, 0))
    writer.finish(zxid_start=1, zxid_end=2)
    return out.getvalue()


STREAM = complete_stream()  # about 1 MB


def start_gate(repo: LocalResticRepository) -> subprocess.Popen[bytes]:
    """`restic backup --stdin` behind the gate, as the executor starts it."""
    restic = ["restic", "-r", str(repo.path), "backup", "--stdin", "--stdin-filename",
              STREAM_FILENAME, "--json"]  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "executor.stream_gate", *restic],
        env={"PATH": os.environ["PATH"], **repo.env()},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def feed(gate: subprocess.Popen[bytes], data: bytes) -> tuple[int, str]:
    _, stderr = gate.communicate(data, timeout=60)
    return gate.returncode, stderr.decode()


def test_a_complete_stream_is_committed_byte_for_byte(
    restic_repository: LocalResticRepository,
) -> None:
    code, _ = feed(start_gate(restic_repository), STREAM)
    assert code == 0
    (snapshot_id,) = restic_repository.snapshot_ids()
    assert restic_repository.dump(snapshot_id, "/" + STREAM_FILENAME) == STREAM


@pytest.mark.reliability("Fault: executor killed", "stream cut short never committed")
@pytest.mark.parametrize(
    "kept",
    [0, 1, len(STREAM) // 2, len(STREAM) - 100, len(STREAM) - 1],
    ids=["nothing", "one byte", "half", "trailer cut", "last byte missing"],
)
def test_a_stream_cut_short_stops_restic_uncommitted(
    restic_repository: LocalResticRepository, kept: int
) -> None:
    code, stderr = feed(start_gate(restic_repository), STREAM[:kept])
    assert (code, stderr.strip().splitlines()[-1]) == (REFUSED, REFUSED_MESSAGE)
    assert restic_repository.snapshot_ids() == []


def test_a_stream_with_bytes_after_its_trailer_is_not_committed(
    restic_repository: LocalResticRepository,
) -> None:
    code, _ = feed(start_gate(restic_repository), STREAM + STREAM[:100])
    assert code == REFUSED
    assert restic_repository.snapshot_ids() == []


def restic_children(gate_pid: int) -> list[int]:
    with open(f"/proc/{gate_pid}/task/{gate_pid}/children") as children:
        return [int(pid) for pid in children.read().split()]


def started_mid_stream(repo: LocalResticRepository) -> tuple[subprocess.Popen[bytes], int]:
    """A gate whose restic has received half the stream; returns it and restic's pid."""
    gate = start_gate(repo)
    assert gate.stdin is not None
    gate.stdin.write(STREAM[: len(STREAM) // 2])
    gate.stdin.flush()
    deadline = time.monotonic() + 30
    while not restic_children(gate.pid):
        assert time.monotonic() < deadline, "restic never started"
        time.sleep(0.01)
    (restic_pid,) = restic_children(gate.pid)
    return gate, restic_pid


def gone(pid: int) -> bool:
    """The process has exited and been reaped (or is a zombie awaiting its parent)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


@pytest.mark.reliability("Fault: executor killed", "gate told to stop mid-stream")
def test_sigterm_mid_stream_stops_restic_uncommitted(
    restic_repository: LocalResticRepository,
) -> None:
    gate, restic_pid = started_mid_stream(restic_repository)
    gate.send_signal(signal.SIGTERM)
    assert gate.wait(timeout=30) == REFUSED
    assert gone(restic_pid)
    assert restic_repository.snapshot_ids() == []


@pytest.mark.reliability("Fault: executor killed", "gate killed outright mid-stream")
def test_a_gate_killed_outright_takes_restic_with_it(
    restic_repository: LocalResticRepository,
) -> None:
    gate, restic_pid = started_mid_stream(restic_repository)
    gate.kill()
    gate.wait(timeout=30)
    deadline = time.monotonic() + 30
    while not gone(restic_pid):
        assert time.monotonic() < deadline, "restic outlived its gate"
        time.sleep(0.01)
    assert restic_repository.snapshot_ids() == []


# A stand-in for the executor: starts the gate as `executor backup` does (ResticRepository),
# writes half a stream and dies outright. The gate then sees its input end and, at nearly the
# same moment, gets the SIGTERM its parent-death signal sends.
DYING_PARENT = """
import os, sys
from executor.backends import Repository, base_environment
from executor.restic import ResticRepository
secrets = {"RESTIC_PASSWORD": os.environ["RESTIC_PASSWORD"]}
spec = Repository("r", sys.argv[1], env=secrets)
with ResticRepository(spec, base_environment(os.environ)) as repo:
    gate = repo.start_backup(["zkstash"], "zk", stdout=sys.stdout.buffer, stderr=sys.stderr.buffer)
    print(gate.pid, flush=True)
    gate.stdin.write(sys.stdin.buffer.read())
    gate.stdin.flush()
    os.kill(os.getpid(), 9)
"""


@pytest.mark.reliability("Fault: executor killed", "gate's parent dies mid-stream")
@pytest.mark.parametrize("attempt", range(3))
def test_when_the_executor_dies_the_gate_stops_restic_and_exits(
    restic_repository: LocalResticRepository, attempt: int
) -> None:
    parent = subprocess.run(
        [sys.executable, "-c", DYING_PARENT, str(restic_repository.path)],
        input=STREAM[: len(STREAM) // 2],
        env={"PATH": os.environ["PATH"], **restic_repository.env()},
        capture_output=True,
        timeout=60,
    )
    assert parent.returncode == -signal.SIGKILL
    gate_pid = int(parent.stdout.split()[0])
    deadline = time.monotonic() + 30
    while not gone(gate_pid):
        assert time.monotonic() < deadline, "the gate outlived its executor"
        time.sleep(0.01)
    assert restic_repository.snapshot_ids() == []
