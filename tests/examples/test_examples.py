"""examples/ is a GitOps repository a user can copy: every object validates as written and as
KubeStash's webhooks would default it; the local set applies in order with kubectl."""

from pathlib import Path

import pytest

from schemas.defaults import with_defaults
from schemas.loader import load_documents, read_documents, yaml_files
from schemas.registry import kind_for
from schemas.validation import validate, validate_document

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FILES = yaml_files(EXAMPLES, recursive=True)
OBJECTS = [
    (f"{path.relative_to(EXAMPLES)}#{index}:{obj['kind']}/{obj['metadata']['name']}", obj)
    for path in FILES
    for index, obj in read_documents(path)
]
OURS = [(w, o) for w, o in OBJECTS if kind_for(o["apiVersion"], o["kind"])]


@pytest.mark.parametrize(("where", "obj"), OBJECTS, ids=[w for w, _ in OBJECTS])
def test_example_object_is_valid_as_written(where, obj):
    assert [str(p) for p in validate_document(obj)] == []


@pytest.mark.parametrize(("where", "obj"), OURS, ids=[w for w, _ in OURS])
def test_example_object_is_valid_after_webhook_defaulting(where, obj):
    assert [str(p) for p in validate(with_defaults(obj))] == []


def test_local_set_is_numbered_in_kubectl_apply_order():
    kinds = [obj["kind"] for obj in load_documents(EXAMPLES / "local")]
    assert kinds == [
        "Namespace",
        "Secret",
        "Secret",
        "AppBinding",
        "BackupStorage",
        "RetentionPolicy",
        "BackupConfiguration",
        "RestoreSession",
    ]


def test_local_set_backs_up_the_appbinding_target_to_local_disk():
    objects = {obj["kind"]: obj for obj in load_documents(EXAMPLES / "local")}
    storage = objects["BackupStorage"]["spec"]["storage"]
    session = objects["BackupConfiguration"]["spec"]["sessions"][0]
    assert storage == {
        "provider": "local",
        "local": {
            "hostPath": {"path": "/var/lib/zkstash/backups"},
            "mountPath": "/var/lib/zkstash/backups",
        },
    }
    assert objects["AppBinding"]["spec"]["clientConfig"] == {"url": "127.0.0.1:2181"}
    assert objects["BackupConfiguration"]["spec"]["target"]["name"] == "sample-zookeeper"
    assert session["scheduler"]["schedule"] == "*/5 * * * *"
    assert session["repositories"][0]["name"] == "local-zookeeper-repo"
    assert objects["RestoreSession"]["spec"]["dataSource"]["snapshot"] == "latest"


def test_every_secret_a_local_object_refers_to_is_in_the_set():
    objects = load_documents(EXAMPLES / "local")
    secrets = {obj["metadata"]["name"] for obj in objects if obj["kind"] == "Secret"}
    binding = next(obj for obj in objects if obj["kind"] == "AppBinding")
    bc = next(obj for obj in objects if obj["kind"] == "BackupConfiguration")
    referenced = {binding["spec"]["secret"]["name"]} | {
        repo["encryptionSecret"]["name"]
        for session in bc["spec"]["sessions"]
        for repo in session["repositories"]
    }
    assert referenced <= secrets


def test_guide_covers_every_object_of_the_kubedb_zookeeper_guide():
    names = {(o["kind"], o["metadata"]["name"]) for o in load_documents(EXAMPLES / "kubedb-guide")}
    assert {
        ("Namespace", "demo"),
        ("Secret", "s3-secret"),
        ("Secret", "encrypt-secret"),
        ("BackupStorage", "s3-storage"),
        ("RetentionPolicy", "demo-retention"),
        ("BackupConfiguration", "sample-zookeeper-backup"),
        ("RestoreSession", "sample-zookeeper-restore"),
        ("BackupBlueprint", "zookeeper-default-backup-blueprint"),
        ("BackupBlueprint", "zookeeper-customize-backup-blueprint"),
        ("ZooKeeper", "sample-zookeeper"),
    } <= names
