"""Our Metacontroller controllers point at registered hooks; hooks manifests are valid."""

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from hooks.controllers import CONTROLLERS

ROOT = Path(__file__).resolve().parents[2]
OURS = ["backupconfiguration", "backupsession", "backupblueprint"]


@pytest.mark.parametrize("name", OURS)
def test_controller_uses_hooks_v2_and_registered_paths(name):
    controller = yaml.safe_load(
        (ROOT / "manifests" / "metacontroller" / f"{name}.yaml").read_text()
    )
    for hook, definition in controller["spec"]["hooks"].items():
        assert definition["version"] == "v2"
        hook_name, controller_name = definition["webhook"]["path"].strip("/").split("/")
        assert hook_name == hook
        module = CONTROLLERS[controller_name]
        assert callable(getattr(module, hook))


@pytest.mark.parametrize("path", ["deployment.yaml", "trigger-rbac.yaml"])
def test_hooks_manifests_validate_strictly(path):
    for document in yaml.safe_load_all((ROOT / "manifests" / "hooks" / path).read_text()):
        kubernetes_validate.validate(document, "1.29", strict=True)


def test_trigger_role_may_only_create_backup_sessions():
    role = yaml.safe_load((ROOT / "manifests" / "hooks" / "trigger-rbac.yaml").read_text())
    assert role["rules"] == [
        {"apiGroups": ["core.kubestash.com"], "resources": ["backupsessions"], "verbs": ["create"]}
    ]
