"""`kubectl-zkstash describe`: the real hooks run offline on the example YAML."""

from __future__ import annotations

import json

import yaml

from plugin.describe import PARENTS
from tests.plugin.conftest import run_command
from tests.standin.standin import REPO_ROOT, manifest_documents

EXAMPLES = REPO_ROOT / "examples" / "local"
ADDON = REPO_ROOT / "manifests" / "addon"


def describe(*argv: str):
    return run_command("kubectl-zkstash", "describe", *argv, cwd=REPO_ROOT)


def test_a_backup_configuration_would_get_its_repository_cronjob_and_trigger_account() -> None:
    done = describe(
        str(EXAMPLES / "06-backupconfiguration.yaml"), "--with", str(EXAMPLES), str(ADDON)
    )

    assert done.code == 0, done.stderr
    assert done.stdout.splitlines() == [
        "BackupConfiguration demo/sample-zookeeper-backup",
        "  Phase: NotReady",
        "  Conditions:",
        "    ValidationPassed=True (ResourceValidationPassed): The BackupConfiguration is valid.",
        "  Children (4):",
        "    CronJob demo/trigger-sample-zookeeper-backup-frequent-backup",
        "    RoleBinding demo/trigger-sample-zookeeper-backup",
        "    Repository demo/local-zookeeper-repo",
        "    ServiceAccount demo/trigger-sample-zookeeper-backup",
    ]


def test_a_backup_storage_would_get_an_init_job_and_wait_for_it() -> None:
    done = describe(str(EXAMPLES / "04-backupstorage.yaml"), "--with", str(ADDON), "-o", "json")

    assert done.code == 0, done.stderr
    (outcome,) = json.loads(done.stdout)
    assert [c["kind"] for c in outcome["children"]] == ["Job"]
    assert outcome["children"][0]["metadata"]["name"].startswith("init-local-storage-")
    assert outcome["status"]["phase"] == "NotReady"


def test_a_missing_addon_is_named_in_the_status() -> None:
    done = describe(str(EXAMPLES / "04-backupstorage.yaml"), "-o", "yaml")

    assert done.code == 0, done.stderr
    (outcome,) = yaml.safe_load_all(done.stdout)
    messages = [c["message"] for c in outcome["status"]["conditions"]]
    assert "Function zookeeper-init-storage: not found" in messages
    assert outcome["children"] == []


def test_a_file_without_controlled_kinds_is_a_usage_error() -> None:
    done = describe(str(EXAMPLES / "01-encrypt-secret.yaml"))

    assert done.code == 2
    assert "holds none of the kinds the hooks control" in done.stderr


def test_a_missing_file_is_a_usage_error_naming_it() -> None:
    done = describe("no/such/file.yaml")

    assert done.code == 2
    assert "no/such/file.yaml: no such file or folder" in done.stderr


def test_the_parent_kinds_are_those_of_the_shipped_composite_controllers() -> None:
    controllers = manifest_documents(REPO_ROOT / "manifests" / "metacontroller")
    parents = {
        c["spec"]["parentResource"]["resource"]
        for c in controllers
        if c["kind"] == "CompositeController"
    }
    versions = {hook["version"] for c in controllers for hook in c["spec"]["hooks"].values()}
    assert {f"{kind.lower()}s".replace("ys", "ies") for _, kind in PARENTS} == parents
    assert versions == {"v2"}
