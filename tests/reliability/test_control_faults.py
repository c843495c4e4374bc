"""The hooks server fails mid-flow (killed and restarted, answering 500, answering too late): the
stand-in retries as Metacontroller does, and the backup still ends with exactly one
BackupSession, one backup Job, and one Succeeded Snapshot whose restic data is the tree."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient

from tests.e2e import objects
from tests.e2e.flow import (
    NS,
    REPO,
    apply_backup_setup,
    backup_results,
    dump_dir,
    next_session,
    restic_id,
    restic_snapshot_ids,
    session_names,
    zookeeper_client,
)
from tests.infra.zookeeper import SUPER_PASSWORD, SUPER_USER, ZooKeeperServer
from tests.reliability.conftest import Fault, FaultProxy
from tests.standin import zktree
from tests.standin.hooks_server import HooksServer
from tests.standin.kubectl import Kubectl
from tests.standin.standin import REPO_ROOT, Standin

# The hooks whose failure would hurt most if it duplicated or lost work.
FLOW_HOOKS = (
    "/sync/backupconfiguration",
    "/sync/backupsession",
    "/sync/repository",
    "/sync/snapshot",
)


def backup_jobs(kubectl: Kubectl) -> list[dict[str, Any]]:
    return [j for j in kubectl.objects("Job", NS) if j["metadata"]["name"].startswith("backup-")]


def assert_exactly_one_good_backup(
    kubectl: Kubectl, backup_dir: Path, session: str, znodes: int
) -> dict[str, Any]:
    """One BackupSession, one backup Job (attempt 0), one Succeeded Snapshot in restic whose
    stream holds every znode of the tree; the Snapshot."""
    assert session_names(kubectl) == [session]
    (job,) = backup_jobs(kubectl)
    assert job["metadata"]["labels"]["kubestash.com/attempt"] == "0"
    done = kubectl.object("BackupSession", NS, session)
    assert done["status"]["phase"] == "Succeeded"
    assert done["status"]["retried"] is False
    (entry,) = done["status"]["snapshots"]
    snapshots = kubectl.objects("Snapshot", NS)
    assert [s["metadata"]["name"] for s in snapshots] == [entry["name"]]
    snapshot = snapshots[0]
    assert snapshot["status"]["phase"] == "Succeeded"
    (result,) = backup_results(kubectl, session)
    assert result["stream"]["znodes"] == znodes
    assert restic_snapshot_ids(dump_dir(backup_dir)) == {restic_id(snapshot)}
    return snapshot


def seeded(zk_client: KazooClient, zk_root: str) -> zktree.Tree:
    zktree.seed(zk_client, zk_root, SUPER_USER, SUPER_PASSWORD)
    return zktree.read_tree(zk_client, zk_root)


def manifests_with_hook_timeout(tmp_path: Path, timeout: str) -> Path:
    """A copy of manifests/ whose controllers give every webhook `timeout`."""
    copy = tmp_path / "manifests"
    for part in ("crds", "addon", "metacontroller"):
        shutil.copytree(REPO_ROOT / "manifests" / part, copy / part)
    for path in (copy / "metacontroller").glob("*.yaml"):
        text = path.read_text()
        if path.name == "kustomization.yaml":
            continue
        assert "timeout: 10s" in text
        path.write_text(text.replace("timeout: 10s", f"timeout: {timeout}"))
    return copy


@pytest.mark.reliability("Fault: hooks server", "killed (SIGKILL) while a backup runs, restarted")
def test_hooks_server_killed_while_a_backup_runs_loses_nothing_and_duplicates_nothing(
    own_hooks_server: HooksServer,
    tmp_path: Path,
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    backup_dir: Path,
    restore_hosts: str,
) -> None:
    tree = seeded(zk_client, zk_root)
    cluster = Standin(own_hooks_server.url, tmp_path / "cluster", job_backoff_seconds=1.0)
    kubectl = Kubectl(cluster)
    try:
        apply_backup_setup(kubectl, zookeeper, backup_dir, root=zk_root)
        session = next_session(cluster, kubectl, [])
        kubectl.wait_for("BackupSession", NS, session, "Running", timeout=60)

        own_hooks_server.kill()
        (job,) = backup_jobs(kubectl)
        job_name = job["metadata"]["name"]
        cluster.run_until(
            lambda: (kubectl.object("Job", NS, job_name).get("status") or {}).get("succeeded"),
            60,
            "the backup Job to finish while the hooks server is down",
        )
        assert kubectl.phase("BackupSession", NS, session) == "Running"  # nobody told it yet
        assert any("http error" in e for e in cluster.metacontroller.sync_errors)
        own_hooks_server.start()

        done = kubectl.wait_for("BackupSession", NS, session, "Succeeded", timeout=60)
        kubectl.wait_for("Snapshot", NS, done["status"]["snapshots"][0]["name"], "Succeeded", 60)
        cluster.settle()
        snapshot = assert_exactly_one_good_backup(kubectl, backup_dir, session, len(tree))

        kubectl.apply(
            [
                objects.appbinding(NS, "restored-zookeeper", restore_hosts),
                objects.restore_session(
                    NS, "restored-zookeeper", REPO, snapshot=snapshot["metadata"]["name"]
                ),
            ]
        )
        kubectl.wait_for("RestoreSession", NS, "sample-zookeeper-restore", "Succeeded", 90)
        with zookeeper_client(restore_hosts) as client:
            assert zktree.diff(tree, zktree.read_tree(client, zk_root)) == []
    finally:
        cluster.close()


def every_third_call_fails(path: str, count: int) -> Fault | None:
    return Fault(status=500) if path in FLOW_HOOKS and count % 3 == 0 else None


@pytest.mark.reliability("Fault: hooks server", "HTTP 500 on every third sync of each flow hook")
def test_hooks_answering_500_are_retried_with_backoff_and_the_backup_happens_once(
    fault_proxy: FaultProxy,
    tmp_path: Path,
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    backup_dir: Path,
) -> None:
    tree = seeded(zk_client, zk_root)
    fault_proxy.plan = every_third_call_fails
    cluster = Standin(fault_proxy.url, tmp_path / "cluster", job_backoff_seconds=1.0)
    kubectl = Kubectl(cluster)
    try:
        apply_backup_setup(kubectl, zookeeper, backup_dir, root=zk_root)
        session = next_session(cluster, kubectl, [])
        done = kubectl.wait_for("BackupSession", NS, session, "Succeeded", timeout=90)
        kubectl.wait_for("Snapshot", NS, done["status"]["snapshots"][0]["name"], "Succeeded", 60)
        cluster.settle()

        assert_exactly_one_good_backup(kubectl, backup_dir, session, len(tree))
        failed_paths = {path for path, status in fault_proxy.faults() if status == 500}
        assert failed_paths == set(FLOW_HOOKS)
        errors = cluster.metacontroller.sync_errors
        assert len([e for e in errors if "unsupported status code: 500" in e]) == len(
            fault_proxy.faults()
        )
    finally:
        cluster.close()


def first_two_calls_too_slow(path: str, count: int) -> Fault | None:
    # 2.5 s against a 1 s webhook timeout; the late answer still reaches the hooks server.
    return Fault(delay=2.5) if path in FLOW_HOOKS and count < 2 else None


@pytest.mark.reliability("Fault: hooks server", "timeout: first two syncs of each flow hook late")
def test_hooks_answering_after_the_webhook_timeout_are_retried_and_the_backup_happens_once(
    fault_proxy: FaultProxy,
    tmp_path: Path,
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    backup_dir: Path,
) -> None:
    tree = seeded(zk_client, zk_root)
    fault_proxy.plan = first_two_calls_too_slow
    cluster = Standin(
        fault_proxy.url,
        tmp_path / "cluster",
        manifests=manifests_with_hook_timeout(tmp_path, "1s"),
        job_backoff_seconds=1.0,
    )
    kubectl = Kubectl(cluster)
    try:
        apply_backup_setup(kubectl, zookeeper, backup_dir, root=zk_root)
        session = next_session(cluster, kubectl, [])
        done = kubectl.wait_for("BackupSession", NS, session, "Succeeded", timeout=120)
        kubectl.wait_for("Snapshot", NS, done["status"]["snapshots"][0]["name"], "Succeeded", 60)
        cluster.settle()

        assert_exactly_one_good_backup(kubectl, backup_dir, session, len(tree))
        timeouts = [e for e in cluster.metacontroller.sync_errors if "timed out" in e]
        assert len(timeouts) == 2 * len(FLOW_HOOKS)
    finally:
        cluster.close()
