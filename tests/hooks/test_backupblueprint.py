"""Auto-backup: annotated AppBindings get BackupConfiguration appbinding-<db> from a blueprint."""

import copy

from hooks.controllers import backupblueprint
from hooks.protocol import parse_request
from tests.hooks import world
from tests.hooks.checks import check_response

BLUEPRINT = {
    "apiVersion": "core.kubestash.com/v1alpha1",
    "kind": "BackupBlueprint",
    "metadata": {"name": "zookeeper-customize-backup-blueprint", "namespace": "demo"},
    "spec": {
        "usagePolicy": {"allowedNamespaces": {"from": "Same"}},
        "backupConfigurationTemplate": {
            "deletionPolicy": "OnDelete",
            "backends": [
                {
                    "name": "s3-backend",
                    "storageRef": {"name": "s3-storage", "namespace": "demo"},
                    "retentionPolicy": {"name": "demo-retention", "namespace": "demo"},
                }
            ],
            "sessions": [
                {
                    "name": "frequent-backup",
                    "sessionHistoryLimit": 3,
                    "scheduler": {"schedule": "${schedule}", "jobTemplate": {"backoffLimit": 1}},
                    "repositories": [
                        {
                            "name": "${repoName}",
                            "backend": "s3-backend",
                            "directory": "${namespace}/${targetName}",
                            "encryptionSecret": {"name": "encrypt-secret", "namespace": "demo"},
                        }
                    ],
                    "addon": {"name": "zookeeper-addon", "tasks": [{"name": "logical-backup"}]},
                },
                {
                    "name": "nightly",
                    "scheduler": {"schedule": "0 1 * * *"},
                    "repositories": [
                        {"name": "nightly-repo", "backend": "s3-backend", "directory": "/nightly"}
                    ],
                    "addon": {"name": "zookeeper-addon", "tasks": [{"name": "logical-backup"}]},
                },
            ],
        },
    },
}


def annotated(**annotations):
    binding = world.appbinding("sample-zookeeper-2")
    binding["metadata"]["annotations"] = {
        "blueprint.kubestash.com/name": "zookeeper-customize-backup-blueprint",
        "blueprint.kubestash.com/namespace": "demo",
        "variables.kubestash.com/schedule": "*/10 * * * *",
        "variables.kubestash.com/repoName": "customize-blueprint",
        **annotations,
    }
    return binding


def sync(binding, attachments=(), blueprint=BLUEPRINT):
    related = [world.namespace(), *world.planted_secrets()] + ([blueprint] if blueprint else [])
    body = world.sync_body(
        "backupblueprint", binding, list(attachments), related, kind="DecoratorController"
    )
    response = backupblueprint.sync(parse_request(body))
    check_response(response, decorator=True)
    return response


def test_blueprint_yields_backup_configuration_with_variables_substituted():
    response = sync(annotated())
    (bc,) = response["attachments"]
    assert bc["metadata"]["name"] == "appbinding-sample-zookeeper-2"
    session = bc["spec"]["sessions"][0]
    assert session["scheduler"]["schedule"] == "*/10 * * * *"
    assert session["repositories"][0]["name"] == "customize-blueprint"
    assert session["repositories"][0]["directory"] == "demo/sample-zookeeper-2"
    assert bc["spec"]["target"] == {
        "apiGroup": "kubedb.com",
        "kind": "ZooKeeper",
        "name": "sample-zookeeper-2",
        "namespace": "demo",
    }
    assert response["status"] is None


def test_session_names_annotation_selects_sessions():
    response = sync(annotated(**{"blueprint.kubestash.com/session-names": "nightly"}))
    assert [s["name"] for s in response["attachments"][0]["spec"]["sessions"]] == ["nightly"]


def test_unset_variable_keeps_what_is_attached():
    good = sync(annotated())["attachments"]
    binding = annotated()
    del binding["metadata"]["annotations"]["variables.kubestash.com/schedule"]
    observed = [world.observed(a) for a in good]
    response = sync(binding, observed)
    assert [a["metadata"]["name"] for a in response["attachments"]] == [
        "appbinding-sample-zookeeper-2"
    ]


def test_blueprint_that_denies_the_namespace_attaches_nothing_new():
    blueprint = copy.deepcopy(BLUEPRINT)
    blueprint["metadata"]["namespace"] = "other"
    binding = annotated(**{"blueprint.kubestash.com/namespace": "other"})
    assert sync(binding, blueprint=blueprint)["attachments"] == []


def test_missing_blueprint_means_no_backup_configuration():
    assert sync(annotated(), blueprint=None)["attachments"] == []
