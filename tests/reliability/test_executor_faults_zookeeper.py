"""ZooKeeper fails under the real `executor` CLI: the leader of a 3-node ensemble is killed while a
dump or a restore is demonstrably in progress (the progress bar has counted thousands of znodes),
the server is unreachable, or it freezes longer than the session timeout. Every run ends either
complete and exact, or Failed with a result that says so and no snapshot in the repository; a
failed restore completes exactly when the Job runs it again."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from executor.restic import STREAM_FILENAME
from tests.infra.bulk_tree import seed_wide_tree, stream_tree, zookeeper_tree
from tests.infra.executor_process import ExecutorProcess, Finished, run_executor
from tests.infra.s3_fixtures import TEST_RESTIC_PASSWORD, LocalResticRepository
from tests.infra.zookeeper import (
    SUPER_PASSWORD,
    SUPER_USER,
    ZooKeeperEnsemble,
    ZooKeeperServer,
    free_port,
)
from tests.infra.zookeeper_fixtures import super_client

ZK_ENV = {"ZK_USERNAME": SUPER_USER, "ZK_PASSWORD": SUPER_PASSWORD}
PARENTS, CHILDREN = 80, 250  # 20,081 znodes: a dump or restore of a few seconds
FAULT_AT = 3000  # znodes counted by the progress bar before the fault is injected


@pytest.fixture(scope="module")
def ensemble_root(zookeeper_ensemble: ZooKeeperEnsemble) -> str:
    """A 20,081-node tree in the shared ensemble, seeded once for this module."""
    client = super_client(zookeeper_ensemble.hosts)
    try:
        seed_wide_tree(client, "/executor-faults", PARENTS, CHILDREN)
    finally:
        client.stop()
        client.close()
    return "/executor-faults"


@pytest.fixture(scope="module")
def tree_snapshot(
    zookeeper_ensemble: ZooKeeperEnsemble,
    ensemble_root: str,
    _restic_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[LocalResticRepository, str]:
    """A repository holding one complete backup of the ensemble tree, and its snapshot id."""
    base = tmp_path_factory.mktemp("tree-snapshot")
    shutil.copytree(_restic_template, base / "repo")
    repo = LocalResticRepository(base / "repo", TEST_RESTIC_PASSWORD, base / "cache")
    made = run_executor(*backup_args(zookeeper_ensemble.hosts, ensemble_root, repo), env=env(repo))
    assert made.code == 0, made.stderr
    return repo, made.result["repositories"][0]["snapshotId"]


@pytest.fixture
def killed_leader(zookeeper_ensemble: ZooKeeperEnsemble) -> Iterator[list[int]]:
    """Members a test killed; each is started again afterwards, for the next test."""
    killed: list[int] = []
    yield killed
    for index in killed:
        zookeeper_ensemble.start(index)


def env(repo: LocalResticRepository) -> dict[str, str]:
    return {**ZK_ENV, **repo.env()}


def backup_args(hosts: str, root: str, repo: LocalResticRepository, timeout: int = 10) -> list:
    return ["backup", "--zookeeper", hosts, "--auth=digest", f"--root={root}",
            f"--repository={repo.path}", f"--timeout={timeout}"]  # fmt: skip


def restore_args(hosts: str, target: str, repo: LocalResticRepository, snapshot: str) -> list:
    return ["restore", "--zookeeper", hosts, "--auth=digest", f"--target-root={target}",
            f"--repository={repo.path}", f"--snapshot={snapshot}", "--timeout=10"]  # fmt: skip


def kill_leader(ensemble: ZooKeeperEnsemble, killed: list[int]) -> None:
    leader = ensemble.leader()
    killed.append(leader)
    ensemble.kill(leader)


def assert_complete_backup_or_none(
    finished: Finished, repo: LocalResticRepository, hosts: str, root: str
) -> str:
    """Exit 0 with one snapshot that verifies and holds every node, or exit 1 with no snapshot
    at all; returns which ("complete" / "failed")."""
    result = finished.result
    assert result is not None, finished.stderr
    if finished.code == 0:
        assert result["phase"] == "Succeeded"
        snapshot_id = result["repositories"][0]["snapshotId"]
        assert repo.snapshot_ids() == [snapshot_id]
        checked = run_executor("verify", f"--repository={repo.path}", env=repo.env())
        assert checked.code == 0, checked.result
        stored = stream_tree(repo.dump(snapshot_id, "/" + STREAM_FILENAME))
        assert stored == zookeeper_tree(hosts, root)
        return "complete"
    assert finished.code == 1, finished.stderr
    assert result["phase"] == "Failed"
    assert result["repositories"][0]["phase"] == "Failed"
    assert "no snapshot was kept" in result["error"]
    assert repo.snapshot_ids() == []
    assert list((repo.path / "locks").iterdir()) == []  # nothing blocks the next forget/check
    return "failed"


@pytest.mark.reliability("Fault: ZooKeeper", "leader killed mid-dump (executor backup)")
def test_leader_killed_mid_dump_gives_a_complete_verified_snapshot_or_none(
    zookeeper_ensemble: ZooKeeperEnsemble,
    ensemble_root: str,
    restic_repository: LocalResticRepository,
    killed_leader: list[int],
    record_property,
) -> None:
    hosts = zookeeper_ensemble.hosts
    run = ExecutorProcess(
        *backup_args(hosts, ensemble_root, restic_repository), env=env(restic_repository)
    )
    run.wait_for_znodes(FAULT_AT)
    kill_leader(zookeeper_ensemble, killed_leader)
    assert run.running(), "the dump ended before the leader was killed"
    outcome = assert_complete_backup_or_none(run.finish(), restic_repository, hosts, ensemble_root)
    record_property("outcome", outcome)


@pytest.mark.reliability("Fault: ZooKeeper", "leader killed mid-restore, restore run again")
def test_leader_killed_mid_restore_ends_exact_at_once_or_after_a_rerun(
    zookeeper_ensemble: ZooKeeperEnsemble,
    tree_snapshot: tuple[LocalResticRepository, str],
    zk_root: str,
    killed_leader: list[int],
    record_property,
) -> None:
    repo, snapshot_id = tree_snapshot
    hosts = zookeeper_ensemble.hosts
    args = restore_args(hosts, zk_root, repo, snapshot_id)
    run = ExecutorProcess(*args, env=env(repo))
    run.wait_for_znodes(FAULT_AT)
    kill_leader(zookeeper_ensemble, killed_leader)
    assert run.running(), "the restore ended before the leader was killed"
    first = run.finish()
    assert first.result is not None, first.stderr
    if first.code == 0:
        assert first.result["phase"] == "Succeeded"
        # batches whose answer the failover lost count as created, not as found existing
        assert first.result["znodes"]["created"] == first.result["stream"]["znodes"]
        record_property("outcome", "complete")
    else:
        assert first.code == 1 and first.result["phase"] == "Failed", first.stderr
        assert first.result["error"].startswith("restore failed")
        again = run_executor(*args, env=env(repo))
        assert again.code == 0, again.result
        assert again.result["snapshotId"] == snapshot_id
        record_property("outcome", "failed, rerun complete")
    expected = stream_tree(repo.dump(snapshot_id, "/" + STREAM_FILENAME))
    assert zookeeper_tree(hosts, zk_root) == expected


@pytest.mark.reliability("Fault: ZooKeeper", "unreachable at start (executor backup)")
def test_unreachable_zookeeper_fails_within_the_connect_timeout_and_keeps_nothing(
    restic_repository: LocalResticRepository,
) -> None:
    hosts = f"127.0.0.1:{free_port()}"  # nothing listens there
    timeout = 3
    finished = run_executor(
        *backup_args(hosts, "/", restic_repository, timeout), env=env(restic_repository)
    )
    assert finished.code == 1
    assert finished.result["phase"] == "Failed"
    assert f"cannot connect to ZooKeeper at {hosts}" in finished.result["error"]
    assert "no snapshot was kept" in finished.result["error"]
    assert "Traceback" not in finished.stderr
    # it gives up about when the connect timeout ends, not after retrying forever
    assert finished.result["durationSeconds"] < 3 * timeout
    assert restic_repository.snapshot_ids() == []


@pytest.fixture
def fast_expiring_zookeeper(tmp_path: Path) -> Iterator[ZooKeeperServer]:
    """A standalone server whose sessions may be as short as 1 s (tickTime 500 ms)."""
    with ZooKeeperServer(base_dir=tmp_path / "zk", extra_config={"tickTime": "500"}) as server:
        yield server


@pytest.mark.reliability("Fault: ZooKeeper", "server frozen past the session timeout mid-dump")
def test_sessions_expired_mid_dump_give_an_exact_snapshot_or_none(
    fast_expiring_zookeeper: ZooKeeperServer,
    restic_repository: LocalResticRepository,
    record_property,
) -> None:
    server, root = fast_expiring_zookeeper, "/expiry"
    client = super_client(server.hosts)
    try:
        # Five times the usual tree: the dump must still be reading when the server freezes.
        seed_wide_tree(client, root, 5 * PARENTS, CHILDREN)
    finally:
        client.stop()
        client.close()
    session_timeout = 2
    run = ExecutorProcess(
        *backup_args(server.hosts, root, restic_repository, session_timeout),
        env=env(restic_repository),
    )
    run.wait_for_znodes(1)  # freeze at the first progress: the dump has ~99% still to read
    server.pause()
    try:
        time.sleep(2.5 * session_timeout)  # the sessions' deadline passes while frozen
    finally:
        server.resume()
    finished = run.finish()
    assert "Session has expired" in finished.stderr  # the fault really hit the dump's session
    outcome = assert_complete_backup_or_none(finished, restic_repository, server.hosts, root)
    record_property("outcome", outcome)
