"""Auto-backup: an AppBinding annotated with a BackupBlueprint gets a BackupConfiguration built
from the blueprint's template, with `${variables}` from its annotations, and it backs up."""

from __future__ import annotations

from pathlib import Path

from kazoo.client import KazooClient

from tests.e2e import objects
from tests.e2e.flow import (
    NS,
    apply_storage,
    dump_dir,
    next_session,
    restic_id,
    restic_snapshot_ids,
)
from tests.infra.zookeeper import SUPER_PASSWORD, SUPER_USER, ZooKeeperServer
from tests.standin import zktree
from tests.standin.kubectl import Kubectl
from tests.standin.standin import Standin

TARGET = "annotated-zookeeper"
GENERATED = f"appbinding-{TARGET}"


def test_annotated_appbinding_gets_a_configuration_from_the_blueprint_that_backs_up(
    cluster: Standin,
    kubectl: Kubectl,
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    backup_dir: Path,
) -> None:
    zktree.seed(zk_client, zk_root, SUPER_USER, SUPER_PASSWORD)
    apply_storage(kubectl, zookeeper.hosts, backup_dir)
    kubectl.apply(objects.backup_blueprint(NS, "zookeeper-blueprint", "local-storage"))
    annotations = objects.blueprint_annotations(
        NS,
        "zookeeper-blueprint",
        schedule="*/10 * * * *",
        repoName="blueprint-repo",
        targetName=TARGET,
        root=zk_root,
    )
    kubectl.apply(objects.appbinding(NS, TARGET, zookeeper.hosts, annotations=annotations))

    generated = kubectl.wait_for("BackupConfiguration", NS, GENERATED, "Ready", timeout=30)
    assert generated["spec"]["target"]["name"] == TARGET
    (session,) = generated["spec"]["sessions"]
    assert session["scheduler"]["schedule"] == "*/10 * * * *"
    assert session["repositories"][0]["directory"] == f"/{TARGET}"
    kubectl.wait_for("Repository", NS, "blueprint-repo", "Ready", timeout=60)
    (cronjob,) = kubectl.objects("CronJob", NS)
    assert cronjob["metadata"]["ownerReferences"][0]["name"] == GENERATED
    assert cronjob["spec"]["schedule"] == "*/10 * * * *"
    name = next_session(cluster, kubectl, [])
    done = kubectl.wait_for("BackupSession", NS, name, "Succeeded", timeout=90)
    snapshot = kubectl.wait_for(
        "Snapshot", NS, done["status"]["snapshots"][0]["name"], "Succeeded", timeout=30
    )
    assert restic_snapshot_ids(dump_dir(backup_dir, TARGET)) == {restic_id(snapshot)}
