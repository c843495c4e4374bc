"""BackupStorage: the init Job writes metadata.yaml into the backend and the storage turns Ready."""

from __future__ import annotations

from pathlib import Path

from tests.e2e import objects
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
