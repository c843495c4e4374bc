"""BackupStorage: initialization writes metadata.yaml into the backend (local disk and S3);
deleting the storage keeps the data with `Delete` and removes it with `WipeOut`."""

from __future__ import annotations

from pathlib import Path

from tests.e2e import objects
from tests.e2e.flow import s3_object_text
from tests.infra.s3 import S3Server
from tests.standin.kubectl import Kubectl


def test_local_backup_storage_is_initialized_with_metadata_yaml(
    kubectl: Kubectl, backup_dir: Path
) -> None:
    kubectl.apply([objects.namespace("demo"), objects.local_storage("demo", str(backup_dir))])
    storage = kubectl.wait_for("BackupStorage", "demo", "local-storage", "Ready", timeout=30)
    conditions = {c["type"]: c["status"] for c in storage["status"]["conditions"]}
    assert conditions["BackendInitialized"] == "True"
    assert "kind: BackendMeta" in (backup_dir / "metadata.yaml").read_text()
    jobs = kubectl.objects("Job", "demo")
    assert [j["metadata"]["ownerReferences"][0]["kind"] for j in jobs] == ["BackupStorage"]


def test_s3_backup_storage_is_initialized_with_metadata_yaml_in_the_bucket(
    kubectl: Kubectl, s3_server: S3Server, s3_prefix: str
) -> None:
    kubectl.apply(
        [
            objects.namespace("demo"),
            objects.s3_secret("demo", s3_server.access_key, s3_server.secret_key),
            objects.s3_storage("demo", s3_server.endpoint, s3_server.bucket, s3_prefix),
        ]
    )
    storage = kubectl.wait_for("BackupStorage", "demo", "s3-storage", "Ready", timeout=30)
    conditions = {c["type"]: c["status"] for c in storage["status"]["conditions"]}
    assert conditions["BackendInitialized"] == "True"
    assert "kind: BackendMeta" in s3_object_text(s3_server, f"{s3_prefix}/metadata.yaml")


def test_deleting_a_storage_with_delete_policy_keeps_the_backend_data(
    kubectl: Kubectl, backup_dir: Path
) -> None:
    kubectl.apply(
        [
            objects.namespace("demo"),
            objects.local_storage("demo", str(backup_dir), policy="Delete"),
        ]
    )
    kubectl.wait_for("BackupStorage", "demo", "local-storage", "Ready", timeout=30)
    kubectl.delete("BackupStorage", "demo", "local-storage")
    kubectl.wait_gone("BackupStorage", "demo", "local-storage", timeout=30)
    assert (backup_dir / "metadata.yaml").is_file()


def test_deleting_a_storage_with_wipeout_policy_removes_the_backend_data(
    kubectl: Kubectl, backup_dir: Path
) -> None:
    kubectl.apply(
        [
            objects.namespace("demo"),
            objects.local_storage("demo", str(backup_dir), policy="WipeOut"),
        ]
    )
    kubectl.wait_for("BackupStorage", "demo", "local-storage", "Ready", timeout=30)
    (backup_dir / "zookeeper").mkdir()
    (backup_dir / "zookeeper" / "leftover").write_text("data a repository left")
    kubectl.delete("BackupStorage", "demo", "local-storage")
    kubectl.wait_gone("BackupStorage", "demo", "local-storage", timeout=30)
    assert list(backup_dir.iterdir()) == []
