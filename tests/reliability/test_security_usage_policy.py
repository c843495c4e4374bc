"""usagePolicy end to end on the stand-in: a namespace a BackupStorage does not allow gets no Job
from it — not through a BackupConfiguration, not through a hand-written Repository, not through a
cross-namespace RestoreSession — and a condition naming the storage and the namespace; a
Selector policy lets exactly the labelled namespace restore."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient

from tests.e2e import objects
from tests.e2e.flow import NS, REPO, TARGET, apply_backup_setup, next_session, zookeeper_client
from tests.infra.zookeeper import SUPER_PASSWORD, SUPER_USER, ZooKeeperServer
from tests.standin import zktree
from tests.standin.kubectl import Kubectl
from tests.standin.standin import Standin

STORAGE_NS = "storage-owners"
OTHER = "intruder"
DENIAL = "BackupStorage {ns}/{name} does not allow namespace '{user}'"


def namespace(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": labels or {}},
    }


def guarded_storage(ns: str, path: Path, allowed: dict[str, Any]) -> dict[str, Any]:
    """A local BackupStorage whose usagePolicy is `allowed` (allowedNamespaces)."""
    storage = objects.local_storage(ns, str(path), name="guarded-storage")
    storage["spec"]["usagePolicy"] = {"allowedNamespaces": allowed}
    storage["spec"]["default"] = False
    return storage


def conditions_text(obj: dict[str, Any]) -> str:
    return " ".join(c.get("message", "") for c in obj.get("status", {}).get("conditions", []))


def jobs_in(kubectl: Kubectl, ns: str) -> list[str]:
    return [j["metadata"]["name"] for j in kubectl.objects("Job", ns)]


def apply_guarded_storage(kubectl: Kubectl, backup_dir: Path, allowed: dict[str, Any]) -> None:
    kubectl.apply([namespace(STORAGE_NS), guarded_storage(STORAGE_NS, backup_dir, allowed)])
    kubectl.wait_for("BackupStorage", STORAGE_NS, "guarded-storage", "Ready", timeout=30)


@pytest.mark.reliability("Security: usagePolicy", "BackupConfiguration in a namespace not allowed")
def test_backup_configuration_in_a_namespace_the_storage_does_not_allow_gets_nothing(
    cluster: Standin, kubectl: Kubectl, zookeeper: ZooKeeperServer, backup_dir: Path
) -> None:
    apply_guarded_storage(kubectl, backup_dir, {"from": "Same"})
    kubectl.apply(
        [
            objects.namespace(NS),
            objects.encryption_secret(NS),
            objects.zookeeper_auth_secret(NS),
            objects.appbinding(NS, TARGET, zookeeper.hosts),
            objects.retention(NS),
            objects.backup_configuration(
                NS,
                TARGET,
                [
                    objects.backend("guarded", "guarded-storage", STORAGE_NS)
                    | {"retentionPolicy": {"name": "keep-last", "namespace": NS}}
                ],
                [objects.repository_info(REPO, "guarded", "/zookeeper")],
            ),
        ]
    )
    expected = DENIAL.format(ns=STORAGE_NS, name="guarded-storage", user=NS)
    bc = cluster.run_until(
        lambda: (
            (o := kubectl.object("BackupConfiguration", NS, "sample-zookeeper-backup"))
            and expected in conditions_text(o)
            and o
        ),
        30,
        lambda: str(kubectl.object("BackupConfiguration", NS, "sample-zookeeper-backup")),
    )
    cluster.settle()
    assert bc["status"]["phase"] == "Invalid"
    assert "spec.backends[0].storageRef" in conditions_text(bc)
    for kind in ("Job", "CronJob", "Repository", "BackupSession"):
        assert kubectl.objects(kind, NS) == [], kind


@pytest.mark.reliability(
    "Security: usagePolicy", "hand-written Repository in a namespace not allowed"
)
def test_hand_written_repository_in_a_namespace_not_allowed_gets_no_init_job(
    cluster: Standin, kubectl: Kubectl, backup_dir: Path
) -> None:
    apply_guarded_storage(kubectl, backup_dir, {"from": "Same"})
    kubectl.apply(
        [
            namespace(OTHER),
            objects.encryption_secret(OTHER),
            {
                "apiVersion": "storage.kubestash.com/v1alpha1",
                "kind": "Repository",
                "metadata": {"name": "sneaky-repo", "namespace": OTHER},
                "spec": {
                    "appRef": {
                        "apiGroup": "kubedb.com",
                        "kind": "ZooKeeper",
                        "name": "zk",
                        "namespace": OTHER,
                    },
                    "storageRef": {"name": "guarded-storage", "namespace": STORAGE_NS},
                    "path": "/other-teams-data",
                    "encryptionSecret": {"name": "encrypt-secret", "namespace": OTHER},
                },
            },
        ]
    )
    expected = DENIAL.format(ns=STORAGE_NS, name="guarded-storage", user=OTHER)
    repository = cluster.run_until(
        lambda: (
            (o := kubectl.object("Repository", OTHER, "sneaky-repo"))
            and expected in conditions_text(o)
            and o
        ),
        30,
        lambda: str(kubectl.object("Repository", OTHER, "sneaky-repo")),
    )
    cluster.settle()
    assert repository["status"]["phase"] == "NotReady"
    assert f"Repository {OTHER}/sneaky-repo: spec.storageRef" in conditions_text(repository)
    assert jobs_in(kubectl, OTHER) == []
    assert not (backup_dir / "other-teams-data").exists()


def backed_up_snapshot(
    cluster: Standin, kubectl: Kubectl, zookeeper: ZooKeeperServer, zk_client: KazooClient,
    zk_root: str, backup_dir: Path, allowed: dict[str, Any],
) -> str:  # fmt: skip
    """A Succeeded Snapshot in NS of a storage in NS whose usagePolicy is `allowed`."""
    zktree.seed(zk_client, zk_root, SUPER_USER, SUPER_PASSWORD)
    apply_backup_setup(kubectl, zookeeper, backup_dir, root=zk_root)
    kubectl.apply(namespace(NS, {"zkstash-restore": "allowed"}))  # for the Selector case
    storage = objects.local_storage(NS, str(backup_dir))
    storage["spec"]["usagePolicy"] = {"allowedNamespaces": allowed}
    kubectl.apply(storage)
    session = next_session(cluster, kubectl, [])
    done = kubectl.wait_for("BackupSession", NS, session, "Succeeded", timeout=90)
    snapshot = done["status"]["snapshots"][0]["name"]
    kubectl.wait_for("Snapshot", NS, snapshot, "Succeeded", timeout=30)
    return str(snapshot)


def apply_restore_in(
    kubectl: Kubectl, ns: str, labels: dict[str, str], restore_hosts: str, snapshot: str
) -> None:
    kubectl.apply(
        [
            namespace(ns, labels),
            objects.encryption_secret(ns),
            objects.zookeeper_auth_secret(ns),
            objects.appbinding(ns, "restored-zookeeper", restore_hosts),
            objects.restore_session(
                ns, "restored-zookeeper", REPO, snapshot=snapshot, source_ns=NS
            ),
        ]
    )


@pytest.mark.reliability("Security: usagePolicy", "cross-namespace restore not allowed")
def test_cross_namespace_restore_from_a_same_only_storage_is_invalid_without_a_job(
    cluster: Standin, kubectl: Kubectl, zookeeper: ZooKeeperServer, zk_client: KazooClient,
    zk_root: str, backup_dir: Path, restore_hosts: str,
) -> None:  # fmt: skip
    snapshot = backed_up_snapshot(
        cluster, kubectl, zookeeper, zk_client, zk_root, backup_dir, {"from": "Same"}
    )
    apply_restore_in(kubectl, OTHER, {}, restore_hosts, snapshot)
    restore = kubectl.wait_for(
        "RestoreSession", OTHER, "sample-zookeeper-restore", "Invalid", timeout=30
    )
    cluster.settle()
    assert DENIAL.format(ns=NS, name="local-storage", user=OTHER) in conditions_text(restore)
    assert jobs_in(kubectl, OTHER) == []
    with zookeeper_client(restore_hosts) as client:
        assert client.get_children("/") == []


@pytest.mark.reliability("Security: usagePolicy", "cross-namespace restore allowed by Selector")
def test_selector_policy_lets_only_the_labelled_namespace_restore(
    cluster: Standin, kubectl: Kubectl, zookeeper: ZooKeeperServer, zk_client: KazooClient,
    zk_root: str, backup_dir: Path, restore_hosts: str,
) -> None:  # fmt: skip
    allowed = {"from": "Selector", "selector": {"matchLabels": {"zkstash-restore": "allowed"}}}
    snapshot = backed_up_snapshot(
        cluster, kubectl, zookeeper, zk_client, zk_root, backup_dir, allowed
    )
    before = zktree.read_tree(zk_client, zk_root)
    apply_restore_in(kubectl, "labelled", {"zkstash-restore": "allowed"}, restore_hosts, snapshot)
    apply_restore_in(kubectl, "unlabelled", {}, restore_hosts, snapshot)
    kubectl.wait_for(
        "RestoreSession", "labelled", "sample-zookeeper-restore", "Succeeded", timeout=90
    )
    refused = kubectl.wait_for(
        "RestoreSession", "unlabelled", "sample-zookeeper-restore", "Invalid", timeout=30
    )
    assert DENIAL.format(ns=NS, name="local-storage", user="unlabelled") in conditions_text(refused)
    assert jobs_in(kubectl, "unlabelled") == []
    with zookeeper_client(restore_hosts) as client:
        assert zktree.read_tree(client, zk_root) == before
