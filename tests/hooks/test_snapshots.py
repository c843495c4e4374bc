"""The shared Snapshot builder: KubeStash name, labels, a deterministic ULID-shaped id."""

import re

from hooks.snapshots import desired_snapshot, session_repository_names, snapshot_id
from schemas.validation import validate
from tests.hooks import world

REPOSITORY = {
    "apiVersion": "storage.kubestash.com/v1alpha1",
    "kind": "Repository",
    "metadata": {"name": "s3-zookeeper-repo", "namespace": "demo"},
    "spec": {
        "appRef": {
            "apiGroup": "kubedb.com",
            "kind": "ZooKeeper",
            "name": "sample-zookeeper",
            "namespace": "demo",
        },
        "storageRef": {"name": "s3-storage", "namespace": "demo"},
        "path": "/zookeeper",
        "deletionPolicy": "WipeOut",
    },
}
BACKUP_SESSION = {
    "apiVersion": "core.kubestash.com/v1alpha1",
    "kind": "BackupSession",
    "metadata": {
        "name": "sample-zookeeper-backup-frequent-backup-1726572962",
        "namespace": "demo",
        "uid": "bs-uid-1",
        "creationTimestamp": "2024-09-17T11:36:02Z",
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


def test_snapshot_has_kubestash_name_labels_and_spec():
    snapshot = desired_snapshot(REPOSITORY, BACKUP_SESSION)
    assert snapshot["metadata"]["name"] == (
        "s3-zookeeper-repo-sample-zookeepckup-frequent-backup-1726572962"
    )
    labels = snapshot["metadata"]["labels"]
    assert labels["kubestash.com/repo-name"] == "s3-zookeeper-repo"
    assert labels["kubestash.com/app-ref-name"] == "sample-zookeeper"
    assert labels["kubestash.com/backup-session"] == BACKUP_SESSION["metadata"]["name"]
    spec = snapshot["spec"]
    assert spec["type"] == "FullBackup" and spec["version"] == "v1"
    assert spec["deletionPolicy"] == "WipeOut" and spec["session"] == "frequent-backup"
    assert validate(snapshot) == []


def test_snapshot_id_is_ulid_shaped_deterministic_and_per_repository():
    first = snapshot_id(BACKUP_SESSION, "s3-zookeeper-repo")
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", first)
    assert first == snapshot_id(BACKUP_SESSION, "s3-zookeeper-repo")
    assert first != snapshot_id(BACKUP_SESSION, "gcs-zookeeper-repo")
    # the time part sorts by creation time, like a ULID
    later = {
        **BACKUP_SESSION,
        "metadata": {**BACKUP_SESSION["metadata"], "creationTimestamp": "2024-09-18T00:00:00Z"},
    }
    assert snapshot_id(later, "s3-zookeeper-repo")[:10] > first[:10]


def test_session_repository_names():
    bc = world.backup_configuration(
        sessions=[world.session("a", [("r1", "s3-backend"), ("r2", "s3-backend")])]
    )
    assert session_repository_names(bc, "a") == ["r1", "r2"]
    assert session_repository_names(bc, "missing") == []
