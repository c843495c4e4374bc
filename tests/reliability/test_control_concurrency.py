"""Two things at once on the same target: a second backup while one runs is Skipped and says
why; a restore while a backup runs pauses the target's backups (status says which), skips a
backup asked for meanwhile, restores only a finished Snapshot, and leaves the running backup
whole. The hooks' own answer to two sessions seen at once (stale views) is checked too."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient

from hooks.controllers import backupsession
from hooks.protocol import parse_request
from tests.e2e import objects
from tests.e2e.flow import (
    BC,
    NS,
    REPO,
    TARGET,
    apply_backup_setup,
    backup_results,
    dump_dir,
    manual_session,
    next_session,
    restic_id,
    restic_snapshot_ids,
    session_names,
)
from tests.hooks import world
from tests.infra.zookeeper import SUPER_PASSWORD, SUPER_USER, ZooKeeperServer
from tests.standin import zktree
from tests.standin.kubectl import Kubectl
from tests.standin.standin import Standin

SCHEDULE_SECONDS = 300  # the */5 schedule of the BackupConfiguration


def skipped_because(kubectl: Kubectl, cluster: Standin, name: str) -> str:
    """Wait until a BackupSession is Skipped; the message of its BackupSkipped condition."""
    skipped = kubectl.wait_for("BackupSession", NS, name, "Skipped", timeout=30)
    (condition,) = [c for c in skipped["status"]["conditions"] if c["type"] == "BackupSkipped"]
    assert condition["status"] == "True"
    return str(condition["message"])


def jobs_of(kubectl: Kubectl, session: str) -> list[dict[str, Any]]:
    return [
        j
        for j in kubectl.objects("Job", NS)
        if (j["metadata"].get("labels") or {}).get("kubestash.com/invoker-name") == session
    ]


def succeeded_snapshots(kubectl: Kubectl) -> list[dict[str, Any]]:
    return [
        s
        for s in kubectl.objects("Snapshot", NS)
        if (s.get("status") or {}).get("phase") == "Succeeded"
    ]


def first_backup(
    cluster: Standin,
    kubectl: Kubectl,
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    backup_dir: Path,
) -> tuple[str, zktree.Tree]:
    """Seed the tree, set up the backup and wait for the initial one; its session, the tree."""
    zktree.seed(zk_client, zk_root, SUPER_USER, SUPER_PASSWORD)
    tree = zktree.read_tree(zk_client, zk_root)
    apply_backup_setup(kubectl, zookeeper, backup_dir, root=zk_root)
    initial = next_session(cluster, kubectl, [])
    done = kubectl.wait_for("BackupSession", NS, initial, "Succeeded", timeout=90)
    kubectl.wait_for("Snapshot", NS, done["status"]["snapshots"][0]["name"], "Succeeded", 30)
    return initial, tree


@pytest.mark.reliability("Fault: concurrency", "manual backup while a scheduled one runs")
def test_manual_backup_while_a_scheduled_one_runs_is_skipped_and_names_the_running_one(
    cluster: Standin,
    kubectl: Kubectl,
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    backup_dir: Path,
) -> None:
    initial, tree = first_backup(cluster, kubectl, zookeeper, zk_client, zk_root, backup_dir)
    cluster.advance(SCHEDULE_SECONDS)
    scheduled = next_session(cluster, kubectl, [initial])
    kubectl.wait_for("BackupSession", NS, scheduled, "Running", timeout=30)

    kubectl.apply(manual_session("manual-while-running"))
    message = skipped_because(kubectl, cluster, "manual-while-running")
    assert message == f"BackupSession {scheduled} of the same target is Running"
    assert jobs_of(kubectl, "manual-while-running") == []

    done = kubectl.wait_for("BackupSession", NS, scheduled, "Succeeded", timeout=90)
    kubectl.wait_for("Snapshot", NS, done["status"]["snapshots"][0]["name"], "Succeeded", 30)
    cluster.settle()
    assert kubectl.phase("BackupSession", NS, "manual-while-running") == "Skipped"
    # (the initial session itself may be gone: history is pruned to sessionHistoryLimit)
    assert {scheduled, "manual-while-running"} <= set(session_names(kubectl))
    assert len(jobs_of(kubectl, scheduled)) == 1
    # Every Succeeded Snapshot is a whole stream of the tree, in restic.
    good = succeeded_snapshots(kubectl)
    assert {s["spec"]["backupSession"] for s in good} == {initial, scheduled}
    assert restic_snapshot_ids(dump_dir(backup_dir)) == {restic_id(s) for s in good}
    (result,) = backup_results(kubectl, scheduled)
    assert result["stream"]["znodes"] == len(tree)


@pytest.mark.reliability("Fault: concurrency", "restore of the target while a backup runs")
def test_restore_while_a_backup_runs_pauses_backups_and_restores_only_a_finished_snapshot(
    cluster: Standin,
    kubectl: Kubectl,
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    backup_dir: Path,
) -> None:
    initial, tree = first_backup(cluster, kubectl, zookeeper, zk_client, zk_root, backup_dir)
    (first_snapshot,) = succeeded_snapshots(kubectl)
    zk_client.delete(f"{zk_root}/controller_epoch")  # the day's accident
    cluster.advance(SCHEDULE_SECONDS)
    running = next_session(cluster, kubectl, [initial])
    kubectl.wait_for("BackupSession", NS, running, "Running", timeout=30)

    kubectl.apply(objects.restore_session(NS, TARGET, REPO))  # `latest`, into the live target
    restore = cluster.run_until(
        lambda: (
            (kubectl.object("RestoreSession", NS, "sample-zookeeper-restore") or {})
            .get("status", {})
            .get("pausedBackups")
        ),
        30,
        "the RestoreSession to list the backups it pauses",
    )
    assert restore == [
        {
            "apiGroup": "core.kubestash.com",
            "kind": "BackupConfiguration",
            "name": BC,
            "namespace": NS,
        }
    ]
    kubectl.apply(manual_session("manual-during-restore"))
    message = skipped_because(kubectl, cluster, "manual-during-restore")
    assert message == "RestoreSession sample-zookeeper-restore is restoring the same target"

    restored = kubectl.wait_for("RestoreSession", NS, "sample-zookeeper-restore", "Succeeded", 90)
    assert "pausedBackups" not in restored["status"]
    (snapshot_dependency,) = [
        d for d in restored["status"]["dependencies"] if d["kind"] == "Snapshot"
    ]
    assert snapshot_dependency["name"] == first_snapshot["metadata"]["name"]
    assert zktree.diff(tree, zktree.read_tree(zk_client, zk_root)) == []

    done = kubectl.wait_for("BackupSession", NS, running, "Succeeded", timeout=90)
    kubectl.wait_for("Snapshot", NS, done["status"]["snapshots"][0]["name"], "Succeeded", 30)
    cluster.settle()
    assert jobs_of(kubectl, "manual-during-restore") == []
    (result,) = backup_results(kubectl, running)
    assert result["phase"] == "Succeeded"  # a whole, verified stream (trailer checked)
    good = succeeded_snapshots(kubectl)
    assert {s["spec"]["backupSession"] for s in good} == {initial, running}
    assert restic_snapshot_ids(dump_dir(backup_dir)) == {restic_id(s) for s in good}


# ----------------------------------------------------------------------------- hook level


def session_object(name: str, created: str, phase: str = "") -> dict[str, Any]:
    """A BackupSession of the world's configuration, as observed (no status before its sync)."""
    obj: dict[str, Any] = {
        "apiVersion": "core.kubestash.com/v1alpha1",
        "kind": "BackupSession",
        "metadata": {
            "name": name,
            "namespace": world.NS,
            "uid": f"uid-{name}",
            "generation": 1,
            "creationTimestamp": created,
        },
        "spec": {
            "invoker": {
                "apiGroup": "core.kubestash.com",
                "kind": "BackupConfiguration",
                "name": "sample-zookeeper-backup",
            },
            "session": "frequent-backup",
        },
    }
    if phase:
        obj["status"] = {"phase": phase}
    return obj


def ready_repository() -> dict[str, Any]:
    return {
        "apiVersion": "storage.kubestash.com/v1alpha1",
        "kind": "Repository",
        "metadata": {"name": "s3-zookeeper-repo", "namespace": world.NS},
        "spec": {
            "appRef": {"apiGroup": "kubedb.com", "kind": "ZooKeeper", "name": "sample-zookeeper"},
            "storageRef": {"name": "s3-storage", "namespace": world.NS},
            "path": "/s3-zookeeper-repo",
            "encryptionSecret": {"name": "encrypt-secret", "namespace": world.NS},
        },
        "status": {"phase": "Ready"},
    }


def sync_seeing(me: dict[str, Any], others: list[dict[str, Any]]) -> dict[str, Any]:
    """The BackupSession hook's answer for `me` when its cache holds `others` as given."""
    related = [
        world.backup_configuration(status={"phase": "Ready"}),
        world.appbinding(),
        world.backup_storage(),
        ready_repository(),
        *world.catalog(),
        me,
        *others,
    ]
    body = world.sync_body("backupsession", copy.deepcopy(me), [], related)
    return backupsession.sync(parse_request(body))


@pytest.mark.reliability("Fault: concurrency", "two sessions created at once, each seen Pending")
@pytest.mark.parametrize("created_b", ["2026-11-25T10:00:00Z", "2026-11-25T10:00:01Z"])
def test_two_sessions_created_together_exactly_one_gets_a_job(created_b: str) -> None:
    # Both caches are stale: each session sees the other without a status yet.
    a = session_object("bc-frequent-backup-a", "2026-11-25T10:00:00Z")
    b = session_object("bc-frequent-backup-b", created_b)
    answers = {"a": sync_seeing(a, [b]), "b": sync_seeing(b, [a])}

    with_job = [k for k, r in answers.items() if any(c["kind"] == "Job" for c in r["children"])]
    assert with_job == ["a"]  # the older one (by time, then name) runs
    skipped = answers["b"]["status"]
    assert skipped["phase"] == "Skipped"
    (condition,) = skipped["conditions"]
    assert condition["type"] == "BackupSkipped"
    assert (
        condition["message"] == "BackupSession bc-frequent-backup-a of the same target is Pending"
    )
