"""Steps shared by the e2e tests: the user's setup of storage, retention and a backup, and ways
to look at what came of it (executor results, restic's own listing, restored trees)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kazoo.client import KazooClient

from tests.e2e import objects
from tests.infra.s3 import S3Server
from tests.infra.zookeeper import ZooKeeperServer
from tests.infra.zookeeper_fixtures import super_client
from tests.standin.kubectl import Kubectl
from tests.standin.standin import Standin

NS = "demo"
BC = "sample-zookeeper-backup"
SESSION = "frequent-backup"
REPO = "local-zookeeper-repo"
CRONJOB = f"trigger-{BC}-{SESSION}"
TARGET = "sample-zookeeper"


def dump_dir(backup_dir: Path, directory: str = "zookeeper") -> Path:
    """Where KubeStash's layout puts a repository's restic data inside a local backend."""
    return backup_dir / directory.strip("/") / "repository" / "v1" / SESSION / "dump"


def apply_storage(
    kubectl: Kubectl, zookeeper_hosts: str, backup_dir: Path, ns: str = NS
) -> dict[str, Any]:
    """Namespace, Secrets, AppBinding, local BackupStorage (Ready) and RetentionPolicy."""
    kubectl.apply(
        [
            objects.namespace(ns),
            objects.encryption_secret(ns),
            objects.zookeeper_auth_secret(ns),
            objects.appbinding(ns, TARGET, zookeeper_hosts),
            objects.local_storage(ns, str(backup_dir)),
            objects.retention(ns, last=2),
        ]
    )
    return kubectl.wait_for("BackupStorage", ns, "local-storage", "Ready", timeout=30)


def apply_backup_setup(
    kubectl: Kubectl,
    zookeeper: ZooKeeperServer,
    backup_dir: Path,
    ns: str = NS,
    root: str | None = None,
    **session: Any,
) -> None:
    """`apply_storage`, then a BackupConfiguration of `root` (default: the whole tree)."""
    apply_storage(kubectl, zookeeper.hosts, backup_dir, ns)
    kubectl.apply(
        objects.backup_configuration(
            ns,
            TARGET,
            [objects.backend("local-backend", "local-storage", ns)],
            [objects.repository_info(REPO, "local-backend", "/zookeeper")],
            params={"root": root} if root else None,
            **session,
        )
    )


def session_names(kubectl: Kubectl, ns: str = NS) -> list[str]:
    """BackupSession names, oldest first."""
    sessions = kubectl.objects("BackupSession", ns)
    sessions.sort(key=lambda s: (s["metadata"]["creationTimestamp"], s["metadata"]["name"]))
    return [s["metadata"]["name"] for s in sessions]


def next_session(cluster: Standin, kubectl: Kubectl, known: list[str], ns: str = NS) -> str:
    """Step until a BackupSession not in `known` exists; its name."""
    found = cluster.run_until(
        lambda: [n for n in session_names(kubectl, ns) if n not in known],
        60,
        lambda: "a new BackupSession; jobs:\n" + kubectl.get("jobs", ns),
    )
    return str(found[0])


def wait_phases(
    cluster: Standin, kubectl: Kubectl, kind: str, ns: str, name: str, final: str, timeout: float
) -> tuple[list[str], dict[str, Any]]:
    """Step until the object is in phase `final`; every distinct phase seen on the way, in order,
    and the object."""
    seen: list[str] = []

    def reached() -> dict[str, Any] | None:
        obj = kubectl.object(kind, ns, name)
        phase = str(((obj or {}).get("status") or {}).get("phase") or "")
        if phase and (not seen or seen[-1] != phase):
            seen.append(phase)
        return obj if phase == final else None

    obj = cluster.run_until(
        reached,
        timeout,
        lambda: (
            f"{kind} {ns}/{name} to reach {final}; phases seen {seen}: "
            f"{(kubectl.object(kind, ns, name) or {}).get('status')}"
        ),
    )
    return seen, obj


def manual_session(name: str) -> dict[str, Any]:
    """A BackupSession of the sample BackupConfiguration asked for by hand (`kubectl kubestash
    trigger`)."""
    return {
        "apiVersion": "core.kubestash.com/v1alpha1",
        "kind": "BackupSession",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "invoker": {
                "apiGroup": "core.kubestash.com",
                "kind": "BackupConfiguration",
                "name": BC,
            },
            "session": SESSION,
        },
    }


def snapshot_of(kubectl: Kubectl, backup_session: str) -> dict[str, Any] | None:
    """The Snapshot of a BackupSession (found by its label), or None."""
    for snapshot in kubectl.objects("Snapshot", NS):
        labels = snapshot["metadata"].get("labels") or {}
        if labels.get("kubestash.com/backup-session") == backup_session:
            return snapshot
    return None


def backup_results(kubectl: Kubectl, session: str, ns: str = NS) -> list[dict[str, Any]]:
    """The BackupResult JSON of every terminated backup pod of a BackupSession, oldest first."""
    results = []
    for pod in kubectl.objects("Pod", ns):
        labels = pod["metadata"].get("labels") or {}
        if labels.get("kubestash.com/invoker-name") != session:
            continue
        state = pod["status"].get("containerStatuses", [{}])[0].get("state", {})
        if "terminated" in state:
            results.append((pod["metadata"]["creationTimestamp"], state["terminated"]["message"]))
    return [json.loads(message) for _, message in sorted(results)]


def restic_id(snapshot: dict[str, Any]) -> str:
    """The restic snapshot id a Snapshot's status records."""
    return str(snapshot["status"]["components"]["dump"]["resticStats"][0]["summary"]["id"])


def restic_snapshot_ids(repository: Path | str, env: dict[str, str] | None = None) -> set[str]:
    """Snapshot ids that restic itself lists in a repository (a path or an `s3:` URL)."""
    listed = subprocess.run(
        ["restic", "-r", str(repository), "snapshots", "--json", "--no-lock", "--no-cache"],
        env={
            "RESTIC_PASSWORD": objects.RESTIC_PASSWORD,
            "PATH": "/usr/bin:/bin",
            "HOME": "/tmp",
            **(env or {}),
        },
        capture_output=True,
        text=True,
        check=True,
    )
    return {s["id"] for s in json.loads(listed.stdout)}


@contextmanager
def zookeeper_client(hosts: str) -> Iterator[KazooClient]:
    """A super-user kazoo client on `hosts` (which may end in a chroot)."""
    client = super_client(hosts)
    try:
        yield client
    finally:
        client.stop()
        client.close()


def s3_object_text(server: S3Server, key: str) -> str:
    """One object of the S3 server's bucket, read with rclone (credentials from `server`)."""
    env = {
        "PATH": "/usr/bin:/bin",
        "RCLONE_CONFIG": "/dev/null",
        "RCLONE_S3_PROVIDER": "Other",
        "RCLONE_S3_ENDPOINT": server.endpoint,
        "RCLONE_S3_ACCESS_KEY_ID": server.access_key,
        "RCLONE_S3_SECRET_ACCESS_KEY": server.secret_key,
    }
    done = subprocess.run(
        ["rclone", "cat", f":s3:{server.bucket}/{key}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return done.stdout
