"""Steps shared by the e2e tests: the user's setup of storage, retention and a backup."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.e2e import objects
from tests.infra.zookeeper import ZooKeeperServer
from tests.standin.kubectl import Kubectl

NS = "demo"
BC = "sample-zookeeper-backup"
REPO = "local-zookeeper-repo"
CRONJOB = f"trigger-{BC}-frequent-backup"


def apply_backup_setup(
    kubectl: Kubectl, zookeeper: ZooKeeperServer, backup_dir: Path, **session: Any
) -> None:
    """Namespace, Secrets, AppBinding, local BackupStorage (Ready), RetentionPolicy, the BC."""
    kubectl.apply(
        [
            objects.namespace(NS),
            objects.encryption_secret(NS),
            objects.zookeeper_auth_secret(NS),
            objects.appbinding(NS, "sample-zookeeper", zookeeper.hosts),
            objects.local_storage(NS, str(backup_dir)),
            objects.retention(NS, last=2),
        ]
    )
    kubectl.wait_for("BackupStorage", NS, "local-storage", "Ready", timeout=30)
    kubectl.apply(
        objects.backup_configuration(
            NS,
            "sample-zookeeper",
            [objects.backend("local-backend", "local-storage", NS)],
            [objects.repository_info(REPO, "local-backend", "/zookeeper")],
            **session,
        )
    )


def backup_results(kubectl: Kubectl, session: str) -> list[dict[str, Any]]:
    """The BackupResult JSON of every terminated backup pod of a BackupSession."""
    results = []
    for pod in kubectl.objects("Pod", NS):
        labels = pod["metadata"].get("labels") or {}
        if labels.get("kubestash.com/invoker-name") != session:
            continue
        state = pod["status"].get("containerStatuses", [{}])[0].get("state", {})
        if "terminated" in state:
            results.append(json.loads(state["terminated"]["message"]))
    return results


def restic_snapshot_ids(repository: Path) -> list[str]:
    """Snapshot ids that restic itself lists in a local repository."""
    listed = subprocess.run(
        ["restic", "-r", str(repository), "snapshots", "--json", "--no-lock"],
        env={"RESTIC_PASSWORD": objects.RESTIC_PASSWORD, "PATH": "/usr/bin:/bin", "HOME": "/tmp"},
        capture_output=True,
        text=True,
        check=True,
    )
    return [s["id"] for s in json.loads(listed.stdout)]
