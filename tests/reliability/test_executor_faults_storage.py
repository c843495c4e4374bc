"""The storage fails under the real `executor backup`: the S3 server stops mid-upload and comes
back, the credentials are wrong, the repository is locked by a dead or by a live restic, the
backend is full. Each run ends complete and verified, or Failed with a sentence that says
why, no partial snapshot, no secret in the output, and every earlier snapshot still verifying."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.infra.bulk_tree import seed_wide_tree
from tests.infra.executor_process import ExecutorProcess, run_executor
from tests.infra.s3 import S3Server, SeaweedProcess
from tests.infra.s3_fixtures import TEST_RESTIC_PASSWORD, LocalResticRepository
from tests.infra.zookeeper import SUPER_PASSWORD, SUPER_USER, ZooKeeperServer
from tests.infra.zookeeper_fixtures import super_client

ZK_ENV = {"ZK_USERNAME": SUPER_USER, "ZK_PASSWORD": SUPER_PASSWORD}
WIDE, SMALL, RANDOM = "/wide", "/small", "/random"
RANDOM_NODES, RANDOM_BYTES = 300, 40_000  # 12 MB restic cannot compress


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZooKeeperServer]:
    """A server of this module: a 20,081-node tree, a 3-node tree and 12 MB of random values."""
    with ZooKeeperServer(base_dir=tmp_path_factory.mktemp("zk-storage")) as server:
        client = super_client(server.hosts)
        try:
            seed_wide_tree(client, WIDE, 80, 250)
            client.create(f"{SMALL}/a/b", b"small", makepath=True)
            client.create(RANDOM)
            for i in range(RANDOM_NODES):
                client.create(f"{RANDOM}/n{i:03d}", os.urandom(RANDOM_BYTES))
        finally:
            client.stop()
            client.close()
        yield server


def backup_args(server: ZooKeeperServer, root: str, repository: str) -> list[str]:
    return ["backup", "--zookeeper", server.hosts, "--auth=digest", f"--root={root}",
            f"--repository={repository}", "--host=zk-storage"]  # fmt: skip


# ----------------------------------------------------------------------------- S3


@pytest.fixture
def own_s3(tmp_path: Path) -> Iterator[SeaweedProcess]:
    """An S3 server of this test alone, so it may be stopped and started again."""
    process = SeaweedProcess(tmp_path / "seaweedfs")
    process.start()
    yield process
    process.stop()


def s3_env(server: S3Server) -> dict[str, str]:
    return {**ZK_ENV, "RESTIC_PASSWORD": TEST_RESTIC_PASSWORD, **server.credentials_env()}


@pytest.mark.reliability("Fault: storage", "S3 server stopped mid-upload, restarted, Job run again")
def test_s3_stopped_mid_upload_ends_verified_or_without_snapshot_and_a_retry_succeeds(
    source: ZooKeeperServer, own_s3: SeaweedProcess, record_property
) -> None:
    server = own_s3.server
    assert server is not None
    repository = server.restic_repository("zk")
    environment = s3_env(server)
    made = run_executor("init-repository", f"--repository={repository}", env=environment)
    assert made.code == 0, made.result
    run = ExecutorProcess(*backup_args(source, WIDE, repository), env=environment)
    run.wait_for_znodes(3000)
    own_s3.stop()
    assert run.running(), "the backup ended before the S3 server stopped"
    time.sleep(2)  # restic meets a dead endpoint and retries
    own_s3.restart()
    first = run.finish()
    assert first.result is not None, first.stderr
    listed = run_executor("snapshots", f"--repository={repository}", "-o", "json", env=environment)
    ids = [line for line in listed.stdout.splitlines() if line.startswith("[")]
    if first.code == 0:
        record_property("outcome", "complete")
        assert first.result["repositories"][0]["snapshotId"] in ids[0]
    else:
        record_property("outcome", "failed")
        assert first.code == 1 and first.result["phase"] == "Failed"
        assert "repository" in first.result["error"]
        assert ids == ["[]"]  # the cut stream was not kept
    again = run_executor(*backup_args(source, WIDE, repository), env=environment)
    assert again.code == 0, again.result
    checked = run_executor("verify", f"--repository={repository}", env=environment)
    assert checked.code == 0, checked.result
    assert checked.result["snapshotId"] == again.result["repositories"][0]["snapshotId"]


@pytest.mark.reliability("Fault: storage", "wrong S3 access key and secret")
def test_wrong_s3_credentials_fail_clearly_without_the_secret_or_a_snapshot(
    source: ZooKeeperServer, s3_server: S3Server, s3_prefix: str
) -> None:
    repository = s3_server.restic_repository(s3_prefix)
    good = s3_env(s3_server)
    assert run_executor("init-repository", f"--repository={repository}", env=good).code == 0
    wrong = {**good, "AWS_ACCESS_KEY_ID": "zkwrongkey", "AWS_SECRET_ACCESS_KEY": "wrong-s3-sec-8d1"}
    made = run_executor(*backup_args(source, SMALL, repository), env=wrong)
    assert made.code == 1
    assert "rejected the credentials" in made.result["error"]
    output = made.stdout + made.stderr
    assert "wrong-s3-sec-8d1" not in output and TEST_RESTIC_PASSWORD not in output
    assert "Traceback" not in output
    listed = run_executor("snapshots", f"--repository={repository}", env=good)
    assert listed.result["count"] == 0


# ----------------------------------------------------------------------------- locks


class ExclusiveLockHolder:
    """A real restic holding an exclusive lock: `restic key passwd` waits for the new password
    on its stdin, which this object never writes."""

    def __init__(self, repo: LocalResticRepository) -> None:
        self.locks = repo.path / "locks"
        self.process = subprocess.Popen(
            ["restic", "key", "passwd"],
            env={"PATH": "/usr/bin:/bin", "RESTIC_REPOSITORY": str(repo.path), **repo.env()},
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not (held := [p for p in self.locks.iterdir() if "-tmp-" not in p.name]):
            assert time.monotonic() < deadline, "restic did not take its lock"
            time.sleep(0.02)
        (self.lock,) = held  # the final name, not the temporary file restic renames

    def kill(self) -> None:
        """SIGKILL restic and reap it: its lock stays behind, stale (its PID is gone)."""
        self.process.kill()
        self.process.wait()


@pytest.fixture
def lock_holder(restic_repository: LocalResticRepository) -> Iterator[ExclusiveLockHolder]:
    holder = ExclusiveLockHolder(restic_repository)
    yield holder
    holder.kill()


def local_env(repo: LocalResticRepository) -> dict[str, str]:
    return {**ZK_ENV, **repo.env()}


@pytest.mark.reliability("Fault: storage", "repository locked by a killed restic (stale lock)")
def test_a_stale_lock_of_a_killed_restic_is_cleared_and_the_backup_succeeds(
    source: ZooKeeperServer,
    restic_repository: LocalResticRepository,
    lock_holder: ExclusiveLockHolder,
) -> None:
    lock_holder.kill()
    assert lock_holder.lock.exists()
    made = run_executor(
        *backup_args(source, SMALL, str(restic_repository.path)), env=local_env(restic_repository)
    )
    assert made.code == 0, made.result
    assert not lock_holder.lock.exists()
    assert restic_repository.snapshot_ids() == [made.result["repositories"][0]["snapshotId"]]


@pytest.mark.reliability("Fault: storage", "repository locked by a live restic (exclusive)")
def test_a_live_exclusive_lock_is_respected_and_named_in_the_error(
    source: ZooKeeperServer,
    restic_repository: LocalResticRepository,
    lock_holder: ExclusiveLockHolder,
) -> None:
    made = run_executor(
        *backup_args(source, SMALL, str(restic_repository.path)), env=local_env(restic_repository)
    )
    assert made.code == 1
    assert "is locked by another running restic process" in made.result["error"]
    assert lock_holder.process.poll() is None and lock_holder.lock.exists()  # never removed
    assert list((restic_repository.path / "snapshots").iterdir()) == []


# ----------------------------------------------------------------------------- full, read-only


@pytest.fixture
def small_volume(tmp_path: Path, _restic_template: Path) -> Iterator[LocalResticRepository]:
    """A repository on an 8 MiB tmpfs (mounting needs root, as the test machines give)."""
    mount = tmp_path / "volume"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], check=True)
    try:
        shutil.copytree(_restic_template, mount / "repo")
        yield LocalResticRepository(mount / "repo", TEST_RESTIC_PASSWORD, tmp_path / "cache")
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def assert_only_earlier_snapshot_verifies(repo: LocalResticRepository, earlier: str) -> None:
    assert repo.snapshot_ids() == [earlier]
    checked = run_executor("verify", f"--repository={repo.path}", env=repo.env())
    assert checked.code == 0, checked.result
    assert checked.result["snapshotId"] == earlier


@pytest.mark.reliability("Fault: storage", "backend full (8 MiB tmpfs, 12 MB stream)")
def test_a_full_backend_fails_clearly_and_keeps_the_earlier_snapshot_intact(
    source: ZooKeeperServer, small_volume: LocalResticRepository
) -> None:
    environment = local_env(small_volume)
    earlier = run_executor(*backup_args(source, SMALL, str(small_volume.path)), env=environment)
    assert earlier.code == 0, earlier.result
    made = run_executor(*backup_args(source, RANDOM, str(small_volume.path)), env=environment)
    assert made.code == 1
    assert "no space left on device" in made.result["error"]
    assert_only_earlier_snapshot_verifies(
        small_volume, earlier.result["repositories"][0]["snapshotId"]
    )
