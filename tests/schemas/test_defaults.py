"""with_defaults: what KubeStash's webhooks and the CRD defaults fill in, without mutating input."""

import copy

from schemas.defaults import with_defaults
from tests.schemas.objects import DELETE, base_object, changed


def test_input_is_not_changed():
    bc = base_object("BackupConfiguration")
    before = copy.deepcopy(bc)
    assert with_defaults(bc) != bc
    assert bc == before


def test_backup_storage_gets_same_namespace_usage_policy_and_delete_policy():
    storage = changed(base_object("BackupStorage"), "spec.usagePolicy", DELETE)
    storage = changed(storage, "spec.deletionPolicy", DELETE)
    spec = with_defaults(storage)["spec"]
    assert spec["usagePolicy"] == {"allowedNamespaces": {"from": "Same"}}
    assert spec["deletionPolicy"] == "Delete"


def test_explicit_values_are_kept():
    spec = with_defaults(base_object("BackupStorage"))["spec"]
    assert spec["deletionPolicy"] == "WipeOut"


def test_s3_trailing_slashes_are_stripped_and_old_secret_field_is_renamed():
    storage = {
        "apiVersion": "storage.kubestash.com/v1alpha1",
        "kind": "BackupStorage",
        "metadata": {"name": "s3", "namespace": "demo"},
        "spec": {
            "storage": {
                "provider": "s3",
                "s3": {
                    "endpoint": "s3.example.com/",
                    "bucket": "b//",
                    "prefix": "demo/",
                    "secret": "s3-secret",
                },
            }
        },
    }
    assert with_defaults(storage)["spec"]["storage"]["s3"] == {
        "endpoint": "s3.example.com",
        "bucket": "b",
        "prefix": "demo",
        "secretName": "s3-secret",
    }


def test_new_field_name_wins_over_old_one():
    storage = base_object("BackupStorage")
    storage["spec"]["storage"] = {
        "provider": "gcs",
        "gcs": {"bucket": "b", "secret": "old", "secretName": "new"},
    }
    assert with_defaults(storage)["spec"]["storage"]["gcs"] == {"bucket": "b", "secretName": "new"}


def test_retention_policy_keeps_the_last_failed_snapshot_by_default():
    policy = changed(base_object("RetentionPolicy"), "spec.failedSnapshots", DELETE)
    assert with_defaults(policy)["spec"]["failedSnapshots"] == {"last": 1}


def test_session_defaults_history_limits_and_renamed_timeout():
    bc = changed(base_object("BackupConfiguration"), "spec.sessions[0].timeout", "30m")
    bc = changed(bc, "spec.sessions[0].retryConfig", {"delay": "1m"})
    session = with_defaults(bc)["spec"]["sessions"][0]
    assert session["sessionHistoryLimit"] == 1
    assert session["retryConfig"] == {"delay": "1m", "maxRetry": 1}
    assert session["scheduler"]["successfulJobsHistoryLimit"] == 3
    assert session["scheduler"]["failedJobsHistoryLimit"] == 1
    assert session["backupTimeout"] == "30m" and "timeout" not in session


def test_retry_config_is_not_invented_when_absent():
    session = with_defaults(base_object("BackupConfiguration"))["spec"]["sessions"][0]
    assert "retryConfig" not in session


def test_restore_session_timeout_and_deadline_are_renamed():
    restore = changed(base_object("RestoreSession"), "spec.timeout", "1h")
    restore["status"] = {"deadline": "2026-11-25T11:00:00Z"}
    defaulted = with_defaults(restore)
    assert defaulted["spec"]["restoreTimeout"] == "1h" and "timeout" not in defaulted["spec"]
    assert defaulted["status"] == {"restoreDeadline": "2026-11-25T11:00:00Z"}


def test_backup_session_timeout_and_deadline_are_renamed():
    session = changed(base_object("BackupSession"), "spec.timeout", "10m")
    session = changed(session, "spec.backupTimeout", DELETE)
    session["status"] = {"deadline": "2026-11-25T11:00:00Z"}
    defaulted = with_defaults(session)
    assert defaulted["spec"]["backupTimeout"] == "10m"
    assert defaulted["status"] == {"backupDeadline": "2026-11-25T11:00:00Z"}


def test_app_binding_secret_gets_kind_secret():
    binding = base_object("AppBinding")
    assert with_defaults(binding)["spec"]["secret"] == {
        "name": "sample-zookeeper-auth",
        "apiGroup": "",
        "kind": "Secret",
    }


def test_objects_of_other_kinds_come_back_unchanged():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {}}
    assert with_defaults(secret) == secret and with_defaults(secret) is not secret
