"""BackupConfiguration: the initial backup with data in restic, one dump into two repositories,
pause and resume, and a failing backup retried per retryConfig until it is Failed."""

from __future__ import annotations

from pathlib import Path

from kazoo.client import KazooClient

from tests.e2e import objects
from tests.e2e.flow import (
    BC,
    CRONJOB,
    NS,
    REPO,
    SESSION,
    TARGET,
    apply_backup_setup,
    apply_storage,
    backup_results,
    dump_dir,
    manual_session,
    next_session,
    restic_id,
    restic_snapshot_ids,
    session_names,
    wait_phases,
)
from tests.infra.zookeeper import SUPER_PASSWORD, SUPER_USER, ZooKeeperServer
from tests.standin import zktree
from tests.standin.kubectl import Kubectl
from tests.standin.standin import Standin


def test_configuration_creates_repository_cronjob_and_a_successful_initial_backup(
    cluster: Standin,
    kubectl: Kubectl,
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    backup_dir: Path,
) -> None:
    zktree.seed(zk_client, zk_root, SUPER_USER, SUPER_PASSWORD)
    apply_backup_setup(kubectl, zookeeper, backup_dir)

    assert kubectl.wait_for("BackupConfiguration", NS, BC, "Ready", timeout=30)
    repository = kubectl.wait_for("Repository", NS, REPO, "Ready", timeout=60)
    assert repository["metadata"]["ownerReferences"][0]["kind"] == "BackupConfiguration"
    cronjob = kubectl.object("CronJob", NS, CRONJOB)
    assert cronjob["spec"]["schedule"] == "*/5 * * * *"
    name = next_session(cluster, kubectl, [])
    assert name.startswith(f"{BC}-{SESSION}-")
    kubectl.wait_for("BackupSession", NS, name, "Succeeded", timeout=90)

    (result,) = backup_results(kubectl, name)
    assert result["phase"] == "Succeeded"
    assert result["stream"]["znodes"] >= 15
    snapshot_id = result["repositories"][0]["snapshotId"]
    assert restic_snapshot_ids(dump_dir(backup_dir)) == {snapshot_id}


def test_one_backup_job_fills_both_repositories_of_a_session(
    cluster: Standin,
    kubectl: Kubectl,
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    backup_dir: Path,
) -> None:
    zktree.seed(zk_client, zk_root, SUPER_USER, SUPER_PASSWORD)
    apply_storage(kubectl, zookeeper.hosts, backup_dir)
    kubectl.apply(
        objects.backup_configuration(
            NS,
            TARGET,
            [objects.backend("local-backend", "local-storage", NS)],
            [
                objects.repository_info("repo-a", "local-backend", "/copy-a"),
                objects.repository_info("repo-b", "local-backend", "/copy-b"),
            ],
            params={"root": zk_root},
        )
    )
    kubectl.wait_for("Repository", NS, "repo-a", "Ready", timeout=60)
    kubectl.wait_for("Repository", NS, "repo-b", "Ready", timeout=60)
    session = next_session(cluster, kubectl, [])
    done = kubectl.wait_for("BackupSession", NS, session, "Succeeded", timeout=90)

    entries = {s["repository"]: s for s in done["status"]["snapshots"]}
    assert {r: e["phase"] for r, e in entries.items()} == {
        "repo-a": "Succeeded",
        "repo-b": "Succeeded",
    }
    backup_jobs = [
        j for j in kubectl.objects("Job", NS) if j["metadata"]["name"].startswith("backup-")
    ]
    assert len(backup_jobs) == 1
    for repository, directory in (("repo-a", "copy-a"), ("repo-b", "copy-b")):
        snapshot = kubectl.wait_for(
            "Snapshot", NS, entries[repository]["name"], "Succeeded", timeout=30
        )
        assert restic_snapshot_ids(dump_dir(backup_dir, directory)) == {restic_id(snapshot)}


def test_paused_configuration_suspends_its_schedule_and_skips_sessions_until_resumed(
    cluster: Standin,
    kubectl: Kubectl,
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    backup_dir: Path,
) -> None:
    zktree.seed(zk_client, zk_root, SUPER_USER, SUPER_PASSWORD)
    apply_backup_setup(kubectl, zookeeper, backup_dir, root=zk_root)
    initial = next_session(cluster, kubectl, [])
    kubectl.wait_for("BackupSession", NS, initial, "Succeeded", timeout=90)

    kubectl.patch("BackupConfiguration", NS, BC, {"paused": True})
    cluster.run_until(
        lambda: kubectl.object("CronJob", NS, CRONJOB)["spec"]["suspend"] is True,
        30,
        "the trigger CronJob to be suspended",
    )
    cluster.advance(300)
    cluster.settle()
    assert session_names(kubectl) == [initial]
    # A session asked for by hand (`kubectl kubestash trigger`) is skipped while paused.
    manual = f"{BC}-{SESSION}-manual"
    kubectl.apply(manual_session(manual))
    skipped = kubectl.wait_for("BackupSession", NS, manual, "Skipped", timeout=30)
    reasons = {c["type"]: c["message"] for c in skipped["status"]["conditions"]}
    assert reasons["BackupSkipped"] == f"BackupConfiguration {BC} is paused"

    kubectl.patch("BackupConfiguration", NS, BC, {"paused": False})
    cluster.run_until(
        lambda: kubectl.object("CronJob", NS, CRONJOB)["spec"]["suspend"] is False,
        30,
        "the trigger CronJob to be resumed",
    )
    cluster.advance(300)
    resumed = next_session(cluster, kubectl, [initial, manual])
    kubectl.wait_for("BackupSession", NS, resumed, "Succeeded", timeout=90)


def test_failing_backup_is_retried_per_retry_config_then_fails_with_the_executor_error(
    cluster: Standin,
    kubectl: Kubectl,
    zookeeper: ZooKeeperServer,
    zk_root: str,
    backup_dir: Path,
) -> None:
    missing = f"{zk_root}/never-created"
    apply_backup_setup(kubectl, zookeeper, backup_dir, root=missing, retryConfig={"maxRetry": 2})
    session = next_session(cluster, kubectl, [])
    phases, failed = wait_phases(cluster, kubectl, "BackupSession", NS, session, "Failed", 120)

    assert phases[-2:] == ["Running", "Failed"] and "Succeeded" not in phases
    assert failed["status"]["retried"] is True
    attempts = sorted(
        j["metadata"]["labels"]["kubestash.com/attempt"]
        for j in kubectl.objects("Job", NS)
        if j["metadata"]["name"].startswith("backup-")
    )
    assert attempts == ["0", "1", "2"]
    completed = {c["type"]: c for c in failed["status"]["conditions"]}["BackupCompleted"]
    assert completed["status"] == "False"
    assert missing in completed["message"]
    results = backup_results(kubectl, session)
    assert [r["phase"] for r in results] == ["Failed", "Failed", "Failed"]
    (entry,) = failed["status"]["snapshots"]
    snapshot = kubectl.wait_for("Snapshot", NS, entry["name"], "Failed", timeout=30)
    assert missing in snapshot["status"]["components"]["dump"]["error"]


def test_session_past_the_history_limit_stays_until_its_snapshot_has_read_the_result(
    cluster: Standin,
    kubectl: Kubectl,
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    backup_dir: Path,
) -> None:
    zktree.seed(zk_client, zk_root, SUPER_USER, SUPER_PASSWORD)
    # The Snapshot controller lags behind: both backups finish before it reads either result.
    cluster.metacontroller.hold("zkstash-snapshot")
    apply_backup_setup(kubectl, zookeeper, backup_dir, root=zk_root, sessionHistoryLimit=1)
    first = next_session(cluster, kubectl, [])
    kubectl.wait_for("BackupSession", NS, first, "Succeeded", timeout=90)
    cluster.fire_cronjob(NS, CRONJOB)
    second = next_session(cluster, kubectl, [first])
    kubectl.wait_for("BackupSession", NS, second, "Succeeded", timeout=90)
    cluster.settle()
    assert session_names(kubectl) == [first, second]

    cluster.metacontroller.release("zkstash-snapshot")
    snapshot_names = [
        kubectl.object("BackupSession", NS, name)["status"]["snapshots"][0]["name"]
        for name in (first, second)
    ]
    snapshots = [
        kubectl.wait_for("Snapshot", NS, name, "Succeeded", timeout=30) for name in snapshot_names
    ]
    (first_result,) = backup_results(kubectl, first)
    assert restic_id(snapshots[0]) == first_result["repositories"][0]["snapshotId"]
    assert restic_snapshot_ids(dump_dir(backup_dir)) == {restic_id(s) for s in snapshots}
    cluster.run_until(
        lambda: session_names(kubectl) == [second],
        30,
        lambda: f"the first session to be pruned; sessions: {session_names(kubectl)}",
    )
    assert kubectl.object("Snapshot", NS, snapshot_names[0])["status"]["phase"] == "Succeeded"
