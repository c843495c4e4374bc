"""Restores beyond the main flow: from a BackupStorage on a real S3 server, and into another
namespace than the one the backups were made in."""

from __future__ import annotations

from pathlib import Path

from kazoo.client import KazooClient

from tests.e2e import objects
from tests.e2e.flow import (
    NS,
    REPO,
    SESSION,
    TARGET,
    apply_backup_setup,
    next_session,
    restic_id,
    restic_snapshot_ids,
    wait_phases,
    zookeeper_client,
)
from tests.infra.s3 import S3Server
from tests.infra.zookeeper import SUPER_PASSWORD, SUPER_USER, ZooKeeperServer
from tests.standin import zktree
from tests.standin.kubectl import Kubectl
from tests.standin.standin import Standin


def test_backup_to_s3_and_restore_from_it(
    cluster: Standin,
    kubectl: Kubectl,
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    s3_server: S3Server,
    s3_prefix: str,
    restore_hosts: str,
) -> None:
    zktree.seed(zk_client, zk_root, SUPER_USER, SUPER_PASSWORD)
    before = zktree.read_tree(zk_client, zk_root)
    kubectl.apply(
        [
            objects.namespace(NS),
            objects.encryption_secret(NS),
            objects.zookeeper_auth_secret(NS),
            objects.s3_secret(NS, s3_server.access_key, s3_server.secret_key),
            objects.appbinding(NS, TARGET, zookeeper.hosts),
            objects.appbinding(NS, "restored-zookeeper", restore_hosts),
            objects.s3_storage(NS, s3_server.endpoint, s3_server.bucket, s3_prefix),
            objects.retention(NS),
        ]
    )
    kubectl.wait_for("BackupStorage", NS, "s3-storage", "Ready", timeout=30)
    kubectl.apply(
        objects.backup_configuration(
            NS,
            TARGET,
            [objects.backend("s3-backend", "s3-storage", NS)],
            [objects.repository_info("s3-zookeeper-repo", "s3-backend", "/zookeeper")],
            params={"root": zk_root},
        )
    )
    kubectl.wait_for("Repository", NS, "s3-zookeeper-repo", "Ready", timeout=60)
    session = next_session(cluster, kubectl, [])
    done = kubectl.wait_for("BackupSession", NS, session, "Succeeded", timeout=90)
    snapshot = kubectl.wait_for(
        "Snapshot", NS, done["status"]["snapshots"][0]["name"], "Succeeded", timeout=30
    )
    repository = s3_server.restic_repository(f"{s3_prefix}/zookeeper/repository/v1/{SESSION}/dump")
    listed = restic_snapshot_ids(repository, s3_server.credentials_env())
    assert listed == {restic_id(snapshot)}

    kubectl.apply(objects.restore_session(NS, "restored-zookeeper", "s3-zookeeper-repo"))
    phases, _ = wait_phases(
        cluster, kubectl, "RestoreSession", NS, "sample-zookeeper-restore", "Succeeded", 90
    )
    assert "Failed" not in phases
    with zookeeper_client(restore_hosts) as client:
        assert zktree.read_tree(client, zk_root) == before


def test_restore_in_another_namespace_from_a_repository_in_the_backup_namespace(
    cluster: Standin,
    kubectl: Kubectl,
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    backup_dir: Path,
    restore_hosts: str,
) -> None:
    zktree.seed(zk_client, zk_root, SUPER_USER, SUPER_PASSWORD)
    before = zktree.read_tree(zk_client, zk_root)
    apply_backup_setup(kubectl, zookeeper, backup_dir, root=zk_root)
    session = next_session(cluster, kubectl, [])
    done = kubectl.wait_for("BackupSession", NS, session, "Succeeded", timeout=90)
    snapshot = done["status"]["snapshots"][0]["name"]
    kubectl.wait_for("Snapshot", NS, snapshot, "Succeeded", timeout=30)

    other = "restore-here"
    kubectl.apply(
        [
            objects.namespace(other),
            objects.encryption_secret(other),
            objects.zookeeper_auth_secret(other),
            objects.appbinding(other, "restored-zookeeper", restore_hosts),
            objects.restore_session(
                other, "restored-zookeeper", REPO, snapshot=snapshot, source_ns=NS
            ),
        ]
    )
    restored = kubectl.wait_for(
        "RestoreSession", other, "sample-zookeeper-restore", "Succeeded", timeout=90
    )
    assert restored["status"]["components"]["dump"]["phase"] == "Succeeded"
    restore_jobs = kubectl.objects("Job", other)
    assert [j["metadata"]["ownerReferences"][0]["kind"] for j in restore_jobs] == ["RestoreSession"]
    with zookeeper_client(restore_hosts) as client:
        assert zktree.read_tree(client, zk_root) == before


def test_restore_whose_zookeeper_secret_is_missing_waits_naming_it_then_runs_once_it_exists(
    cluster: Standin,
    kubectl: Kubectl,
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    backup_dir: Path,
    restore_hosts: str,
) -> None:
    zktree.seed(zk_client, zk_root, SUPER_USER, SUPER_PASSWORD)
    before = zktree.read_tree(zk_client, zk_root)
    apply_backup_setup(kubectl, zookeeper, backup_dir, root=zk_root)
    session = next_session(cluster, kubectl, [])
    done = kubectl.wait_for("BackupSession", NS, session, "Succeeded", timeout=90)
    kubectl.wait_for("Snapshot", NS, done["status"]["snapshots"][0]["name"], "Succeeded", 30)

    other = "restore-here"  # holds the encryption Secret but not the AppBinding's auth Secret
    kubectl.apply(
        [
            objects.namespace(other),
            objects.encryption_secret(other),
            objects.appbinding(other, "restored-zookeeper", restore_hosts),
            objects.restore_session(other, "restored-zookeeper", REPO, source_ns=NS),
        ]
    )

    def executor_condition() -> dict | None:
        restore = kubectl.object("RestoreSession", other, "sample-zookeeper-restore") or {}
        found = [
            c
            for c in (restore.get("status") or {}).get("conditions") or ()
            if c["type"] == "RestoreExecutorEnsured" and c["reason"] == "SecretNotFound"
        ]
        return found[0] if found else None

    waiting = cluster.run_until(executor_condition, 60, "the restore to report the Secret")
    assert waiting["status"] == "False"
    assert waiting["message"].startswith(
        f"Secret {other}/sample-zookeeper-auth not found (named by AppBinding "
        f"{other}/restored-zookeeper: spec.secret)"
    )
    assert kubectl.phase("RestoreSession", other, "sample-zookeeper-restore") == "Pending"
    (pod,) = kubectl.objects("Pod", other)
    assert pod["status"]["containerStatuses"][0]["state"]["waiting"] == {
        "reason": "CreateContainerConfigError",
        "message": 'secret "sample-zookeeper-auth" not found',
    }

    kubectl.apply(objects.zookeeper_auth_secret(other))
    kubectl.wait_for("RestoreSession", other, "sample-zookeeper-restore", "Succeeded", timeout=90)
    with zookeeper_client(restore_hosts) as client:
        assert zktree.read_tree(client, zk_root) == before
