"""The executor is killed outright (SIGKILL: an OOM kill, a lost node) while a backup or restore is
demonstrably in progress, and the Job runs the same command again: the rerun completes, the
repository holds exactly the good snapshot(s), and a restored tree equals its source. The killed
run commits nothing: restic 0.14 would commit its truncated stdin, but the stream gate stops it
(tests/executor/test_stream_gate.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from executor.restic import STREAM_FILENAME
from tests.infra.bulk_tree import seed_wide_tree, stream_tree, zookeeper_tree
from tests.infra.executor_process import ExecutorProcess, run_executor
from tests.infra.s3_fixtures import LocalResticRepository
from tests.infra.zookeeper import SUPER_PASSWORD, SUPER_USER, ZooKeeperServer
from tests.infra.zookeeper_fixtures import super_client

ZK_ENV = {"ZK_USERNAME": SUPER_USER, "ZK_PASSWORD": SUPER_PASSWORD}
ROOT = "/killed"
FAULT_AT = 3000  # znodes counted by the progress bar before the SIGKILL


@pytest.fixture(scope="module")
def seeded_zookeeper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZooKeeperServer]:
    """A server of this module holding a 20,081-node tree under ROOT."""
    with ZooKeeperServer(base_dir=tmp_path_factory.mktemp("zk-killed")) as server:
        client = super_client(server.hosts)
        try:
            seed_wide_tree(client, ROOT, 80, 250)
        finally:
            client.stop()
            client.close()
        yield server


def env(repo: LocalResticRepository) -> dict[str, str]:
    return {**ZK_ENV, **repo.env()}


def backup_args(server: ZooKeeperServer, repo: LocalResticRepository) -> list[str]:
    return ["backup", "--zookeeper", server.hosts, "--auth=digest", f"--root={ROOT}",
            f"--repository={repo.path}", "--host=zk-killed"]  # fmt: skip


def killed_mid_run(args: list[str], environment: dict[str, str]) -> None:
    run = ExecutorProcess(*args, env=environment)
    run.wait_for_znodes(FAULT_AT)
    run.kill()
    finished = run.finish()
    assert finished.code == -9 and finished.result is None  # died with no word, as in OOM


@pytest.mark.reliability("Fault: executor killed", "SIGKILL mid-backup, Job run again")
def test_backup_killed_mid_dump_then_run_again_keeps_exactly_the_rerun_snapshot(
    seeded_zookeeper: ZooKeeperServer, restic_repository: LocalResticRepository
) -> None:
    args = backup_args(seeded_zookeeper, restic_repository)
    killed_mid_run(args, env(restic_repository))
    assert restic_repository.snapshot_ids() == []  # no cut stream was committed
    again = run_executor(*args, env=env(restic_repository))
    assert again.code == 0, again.result
    snapshot_id = again.result["repositories"][0]["snapshotId"]
    assert restic_repository.snapshot_ids() == [snapshot_id]
    assert list((restic_repository.path / "locks").iterdir()) == []
    checked = run_executor(
        "verify", f"--repository={restic_repository.path}", env=env(restic_repository)
    )
    assert checked.code == 0, checked.result
    stored = stream_tree(restic_repository.dump(snapshot_id, "/" + STREAM_FILENAME))
    assert stored == zookeeper_tree(seeded_zookeeper.hosts, ROOT)


@pytest.mark.reliability("Fault: executor killed", "SIGKILL mid-restore, Job run again")
def test_restore_killed_mid_apply_then_run_again_gives_the_exact_tree(
    seeded_zookeeper: ZooKeeperServer, restic_repository: LocalResticRepository, zk_root: str
) -> None:
    made = run_executor(
        *backup_args(seeded_zookeeper, restic_repository), env=env(restic_repository)
    )
    assert made.code == 0, made.result
    snapshot_id = made.result["repositories"][0]["snapshotId"]
    args = ["restore", "--zookeeper", seeded_zookeeper.hosts, "--auth=digest",
            f"--repository={restic_repository.path}", f"--snapshot={snapshot_id}",
            f"--target-root={zk_root}"]  # fmt: skip
    killed_mid_run(args, env(restic_repository))
    again = run_executor(*args, env=env(restic_repository))
    assert again.code == 0, again.result
    counts = again.result["znodes"]
    assert counts["skipped"] > 0  # what the killed run committed is kept, not redone
    assert counts["created"] + counts["skipped"] == again.result["stream"]["znodes"]
    expected = stream_tree(restic_repository.dump(snapshot_id, "/" + STREAM_FILENAME))
    assert zookeeper_tree(seeded_zookeeper.hosts, zk_root) == expected
