"""The whole flow, each object's phase checked on the way: storage, configuration, the initial
backup, scheduled backups through the trigger CronJob, retention, and restores of `latest` and of
a named Snapshot into a fresh ZooKeeper."""

from __future__ import annotations

from pathlib import Path

from kazoo.client import KazooClient

from tests.e2e import objects
from tests.e2e.flow import (
    BC,
    CRONJOB,
    NS,
    REPO,
    apply_storage,
    backup_results,
    dump_dir,
    next_session,
    restic_id,
    restic_snapshot_ids,
    wait_phases,
    zookeeper_client,
)
from tests.infra.zookeeper import SUPER_PASSWORD, SUPER_USER, ZooKeeperServer
from tests.standin import zktree
from tests.standin.kubectl import Kubectl
from tests.standin.standin import Standin

SCHEDULE_SECONDS = 300  # the */5 schedule of the BackupConfiguration


def backup_once(cluster: Standin, kubectl: Kubectl, known: list[str]) -> dict:
    """Wait for the next BackupSession and its Snapshot to succeed; the Snapshot."""
    session = next_session(cluster, kubectl, known)
    known.append(session)
    phases, done = wait_phases(cluster, kubectl, "BackupSession", NS, session, "Succeeded", 90)
    assert phases[-2:] == ["Running", "Succeeded"]
    assert done["metadata"]["ownerReferences"][0]["name"] == BC  # adopted by its configuration
    (entry,) = done["status"]["snapshots"]
    assert (entry["repository"], entry["phase"]) == (REPO, "Succeeded")
    snapshot = kubectl.wait_for("Snapshot", NS, entry["name"], "Succeeded", timeout=30)
    assert snapshot["spec"]["backupSession"] == session
    return snapshot


def test_backup_schedule_retention_and_restore_of_latest_and_named_snapshots(
    cluster: Standin,
    kubectl: Kubectl,
    zk_client: KazooClient,
    zookeeper: ZooKeeperServer,
    zk_root: str,
    backup_dir: Path,
    tmp_path: Path,
) -> None:
    zktree.seed(zk_client, zk_root, SUPER_USER, SUPER_PASSWORD)
    first_state = zktree.read_tree(zk_client, zk_root)

    # Secret + BackupStorage: initialized, metadata.yaml in the backend
    storage = apply_storage(kubectl, zookeeper.hosts, backup_dir)
    assert {c["type"]: c["status"] for c in storage["status"]["conditions"]}[
        "BackendInitialized"
    ] == "True"
    assert "kind: BackendMeta" in (backup_dir / "metadata.yaml").read_text()

    # BackupConfiguration: Ready, Repository initialized, trigger CronJob, the initial backup
    kubectl.apply(
        objects.backup_configuration(
            NS,
            "sample-zookeeper",
            [objects.backend("local-backend", "local-storage", NS)],
            [objects.repository_info(REPO, "local-backend", "/zookeeper")],
            params={"root": zk_root},
        )
    )
    kubectl.wait_for("BackupConfiguration", NS, BC, "Ready", timeout=30)
    repository = kubectl.wait_for("Repository", NS, REPO, "Ready", timeout=60)
    assert repository["metadata"]["ownerReferences"][0]["kind"] == "BackupConfiguration"
    assert (dump_dir(backup_dir) / "config").is_file()  # restic init ran
    cronjob = kubectl.object("CronJob", NS, CRONJOB)
    assert (cronjob["spec"]["schedule"], cronjob["spec"]["suspend"]) == ("*/5 * * * *", False)
    known: list[str] = []
    first = backup_once(cluster, kubectl, known)
    (result,) = backup_results(kubectl, known[0])
    assert result["stream"]["znodes"] == len(first_state)
    assert restic_snapshot_ids(dump_dir(backup_dir)) == {restic_id(first)}

    # Scheduled backups: the clock passes the schedule, the CronJob runs `executor trigger`
    zk_client.create(f"{zk_root}/brokers/ids/3", b'{"host":"kafka-3.kafka","port":9092}')
    zk_client.set(f"{zk_root}/controller_epoch", b"8")
    second_state = zktree.read_tree(zk_client, zk_root)
    cluster.advance(SCHEDULE_SECONDS)
    second = backup_once(cluster, kubectl, known)
    (trigger_job,) = [
        j
        for j in kubectl.objects("Job", NS)
        if j["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    ]
    assert trigger_job["status"]["succeeded"] == 1

    zk_client.delete(f"{zk_root}/brokers/topics/payments")
    third_state = zktree.read_tree(zk_client, zk_root)
    cluster.advance(SCHEDULE_SECONDS)
    third = backup_once(cluster, kubectl, known)

    # Retention (keep the last 2): the first Snapshot goes, and its restic snapshot with it
    kubectl.wait_gone("Snapshot", NS, first["metadata"]["name"], timeout=60)
    kept = {s["metadata"]["name"] for s in kubectl.objects("Snapshot", NS)}
    assert kept == {second["metadata"]["name"], third["metadata"]["name"]}
    assert restic_snapshot_ids(dump_dir(backup_dir)) == {restic_id(second), restic_id(third)}

    # Restores into a ZooKeeper that has never seen this data
    with ZooKeeperServer(tmp_path / "fresh-zookeeper") as fresh:
        with zookeeper_client(fresh.hosts) as client:
            client.create("/named")
        kubectl.apply(
            [
                objects.appbinding(NS, "fresh-zookeeper", fresh.hosts),
                objects.appbinding(NS, "fresh-zookeeper-named", f"{fresh.hosts}/named"),
                objects.restore_session(NS, "fresh-zookeeper", REPO, name="restore-latest"),
            ]
        )
        phases, restored = wait_phases(
            cluster, kubectl, "RestoreSession", NS, "restore-latest", "Succeeded", 90
        )
        assert phases[-1] == "Succeeded" and "Failed" not in phases
        assert restored["status"]["components"]["dump"]["phase"] == "Succeeded"
        with zookeeper_client(fresh.hosts) as client:
            assert zktree.read_tree(client, zk_root) == third_state

        kubectl.apply(
            objects.restore_session(
                NS,
                "fresh-zookeeper-named",
                REPO,
                snapshot=second["metadata"]["name"],
                name="restore-named",
            )
        )
        kubectl.wait_for("RestoreSession", NS, "restore-named", "Succeeded", timeout=90)
        with zookeeper_client(f"{fresh.hosts}/named") as client:
            assert zktree.read_tree(client, zk_root) == second_state
