"""Two BackupSessions of one target at once: the Repository makes a Snapshot for each before
either session is synced; the newer one is then Skipped, and its Snapshot disappears while the
other's backup Succeeds."""

from __future__ import annotations

from pathlib import Path

from kazoo.client import KazooClient

from tests.e2e.flow import (
    BC,
    NS,
    REPO,
    SESSION,
    apply_backup_setup,
    manual_session,
    next_session,
    snapshot_of,
)
from tests.infra.zookeeper import SUPER_PASSWORD, SUPER_USER, ZooKeeperServer
from tests.standin import zktree
from tests.standin.kubectl import Kubectl
from tests.standin.standin import Standin


def test_snapshot_of_a_skipped_session_disappears_and_the_other_succeeds(
    cluster: Standin,
    kubectl: Kubectl,
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    backup_dir: Path,
) -> None:
    zktree.seed(zk_client, zk_root, SUPER_USER, SUPER_PASSWORD)
    # The BackupSession controller lags behind: the Repository sees both sessions first.
    cluster.metacontroller.hold("zkstash-backupsession")
    apply_backup_setup(kubectl, zookeeper, backup_dir, root=zk_root)
    initial = next_session(cluster, kubectl, [])
    manual = f"{BC}-{SESSION}-manual"
    kubectl.apply(manual_session(manual))
    cluster.run_until(
        lambda: snapshot_of(kubectl, initial) and snapshot_of(kubectl, manual),
        30,
        lambda: "a Snapshot for each session; snapshots:\n" + kubectl.get("snapshots", NS),
    )
    skipped_snapshot = snapshot_of(kubectl, manual)["metadata"]["name"]

    cluster.metacontroller.release("zkstash-backupsession")
    skipped = kubectl.wait_for("BackupSession", NS, manual, "Skipped", timeout=30)
    reasons = {c["type"]: c["message"] for c in skipped["status"]["conditions"]}
    assert reasons["BackupSkipped"].startswith(f"BackupSession {initial} of the same target")
    kubectl.wait_gone("Snapshot", NS, skipped_snapshot, timeout=30)

    kubectl.wait_for("BackupSession", NS, initial, "Succeeded", timeout=90)
    kept = snapshot_of(kubectl, initial)["metadata"]["name"]
    kubectl.wait_for("Snapshot", NS, kept, "Succeeded", timeout=30)
    repository = cluster.run_until(
        lambda: (
            (repo := kubectl.object("Repository", NS, REPO))
            and repo["status"].get("lastBackupTime")
            and repo
        ),
        30,
        lambda: f"Repository {REPO} to count the backup: {kubectl.get('repositories', NS)}",
    )
    assert repository["status"]["snapshotCount"] == 1
    assert [s["name"] for s in repository["status"]["recentSnapshots"]] == [kept]
    assert snapshot_of(kubectl, manual) is None
