"""BackupConfiguration: Repository, trigger CronJob, an initial backup with data in restic."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.flow import (
    BC,
    CRONJOB,
    NS,
    REPO,
    apply_backup_setup,
    backup_results,
    restic_snapshot_ids,
)
from tests.infra.zookeeper import SUPER_PASSWORD, SUPER_USER, ZooKeeperServer
from tests.standin import zktree
from tests.standin.kubectl import Kubectl
from tests.standin.standin import Standin

DUMP = Path("zookeeper/repository/v1/frequent-backup/dump")


def test_configuration_creates_repository_cronjob_and_a_successful_initial_backup(
    cluster: Standin,
    kubectl: Kubectl,
    zookeeper: ZooKeeperServer,
    zk_client,
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
    sessions = cluster.run_until(
        lambda: kubectl.objects("BackupSession", NS), 30, "a BackupSession"
    )
    name = sessions[0]["metadata"]["name"]
    assert name.startswith(f"{BC}-frequent-backup-")
    kubectl.wait_for("BackupSession", NS, name, "Succeeded", timeout=90)

    (result,) = backup_results(kubectl, name)
    assert result["phase"] == "Succeeded"
    assert result["stream"]["znodes"] >= 15
    snapshot_id = result["repositories"][0]["snapshotId"]
    assert restic_snapshot_ids(backup_dir / DUMP) == {snapshot_id}
