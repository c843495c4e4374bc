"""A backup whose first attempt fails and whose retry succeeds: the Snapshot waits through the
failed attempt (Running, naming it) and ends Succeeded with the retry's restic snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kazoo.client import KazooClient

from tests.e2e.flow import (
    NS,
    apply_backup_setup,
    backup_results,
    next_session,
    snapshot_of,
    wait_phases,
)
from tests.infra.zookeeper import SUPER_PASSWORD, SUPER_USER, ZooKeeperServer
from tests.standin import zktree
from tests.standin.kubectl import Kubectl
from tests.standin.standin import Standin


def backup_jobs(kubectl: Kubectl, backup_session: str) -> list[dict[str, Any]]:
    """The backup Jobs of a BackupSession, by attempt."""
    found = [
        job
        for job in kubectl.objects("Job", NS)
        if (job["metadata"].get("labels") or {}).get("kubestash.com/backup-session")
        == backup_session
    ]
    return sorted(found, key=lambda job: int(job["metadata"]["labels"]["kubestash.com/attempt"]))


def backup_incomplete(snapshot: dict[str, Any] | None) -> dict[str, Any]:
    """The Snapshot's BackupIncomplete condition, or {}."""
    for condition in ((snapshot or {}).get("status") or {}).get("conditions") or ():
        if condition["type"] == "BackupIncomplete":
            return condition
    return {}


def test_snapshot_waits_through_a_failed_attempt_and_takes_the_retrys_success(
    cluster: Standin,
    kubectl: Kubectl,
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    backup_dir: Path,
) -> None:
    # The dump root exists only after the first attempt has failed.
    later = f"{zk_root}/later"
    apply_backup_setup(kubectl, zookeeper, backup_dir, root=later, retryConfig={"maxRetry": 1})
    session = next_session(cluster, kubectl, [])
    cluster.run_until(
        lambda: backup_jobs(kubectl, session),
        60,
        lambda: "the first backup Job; jobs:\n" + kubectl.get("jobs", NS),
    )
    # The BackupSession controller lags behind: the Snapshot sees the failed attempt first.
    cluster.metacontroller.hold("zkstash-backupsession")
    waiting = cluster.run_until(
        lambda: (
            backup_incomplete(found := snapshot_of(kubectl, session)).get("status") == "Unknown"
            and found
        ),
        30,
        lambda: f"the Snapshot to see the failed attempt: {snapshot_of(kubectl, session)}",
    )
    assert waiting["status"]["phase"] == "Running"
    assert backup_incomplete(waiting)["message"].startswith(
        f"Job {backup_jobs(kubectl, session)[0]['metadata']['name']} (attempt 1) failed: "
    )
    assert later in backup_incomplete(waiting)["message"]

    zktree.seed(zk_client, later, SUPER_USER, SUPER_PASSWORD)
    cluster.metacontroller.release("zkstash-backupsession")
    name = waiting["metadata"]["name"]
    phases, snapshot = wait_phases(cluster, kubectl, "Snapshot", NS, name, "Succeeded", 60)

    assert "Failed" not in phases
    first, retry = backup_results(kubectl, session)
    assert (first["phase"], retry["phase"]) == ("Failed", "Succeeded")
    dump = snapshot["status"]["components"]["dump"]
    assert dump["resticStats"][0]["summary"]["id"] == retry["repositories"][0]["snapshotId"]
    assert snapshot["status"]["snapshotTime"] == retry["startTime"]
    backup_session = kubectl.wait_for("BackupSession", NS, session, "Succeeded", timeout=30)
    assert backup_session["status"]["retried"] is True
    assert [s["phase"] for s in backup_session["status"]["snapshots"]] == ["Succeeded"]
