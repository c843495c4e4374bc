"""validate(): valid objects pass; each kind of mistake is reported at the user's field path."""

import pytest

from schemas.loader import load_documents
from schemas.registry import kinds
from schemas.validation import Problem, validate
from tests.schemas.objects import DATA, DELETE, base_object, changed, valid_objects


def _id(obj: dict) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def test_every_served_kind_has_a_valid_example():
    assert {obj["kind"] for obj in valid_objects()} == {k.kind for k in kinds().values()}


@pytest.mark.parametrize("obj", valid_objects(), ids=_id)
def test_valid_object_has_no_problems(obj):
    assert validate(obj) == []


@pytest.mark.parametrize("obj", load_documents(DATA / "guide-old-field-names.yaml"), ids=_id)
def test_yaml_with_old_field_names_is_accepted(obj):
    assert validate(obj) == []


def test_invalid_cron_is_reported_as_one_sentence_at_its_path():
    bc = changed(
        base_object("BackupConfiguration"), "spec.sessions[0].scheduler.schedule", "*/61 * * * *"
    )
    assert [str(p) for p in validate(bc)] == [
        'spec.sessions[0].scheduler.schedule: "*/61 * * * *" is not a valid cron expression'
    ]


def test_problem_renders_as_path_colon_message():
    assert str(Problem("spec.paused", "expected true or false, got 3")) == (
        "spec.paused: expected true or false, got 3"
    )


def test_all_problems_are_collected_not_just_the_first():
    bc = base_object("BackupConfiguration")
    bc = changed(bc, "spec.sessions[0].scheduler.schedule", "never")
    bc = changed(bc, "spec.sessions[0].sessionHistoryLimit", "three")
    bc = changed(bc, "spec.sessions[0].repositories[0].directory", DELETE)
    paths = {p.path for p in validate(bc)}
    assert paths >= {
        "spec.sessions[0].scheduler.schedule",
        "spec.sessions[0].sessionHistoryLimit",
        "spec.sessions[0].repositories[0].directory",
    }


def test_kind_we_do_not_serve_is_one_clear_problem():
    cronjob = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "x"}, "spec": {}}
    assert [str(p) for p in validate(cronjob)] == [
        "kind: CronJob (batch/v1) is not a kind zkstash serves"
    ]


def test_backends_may_be_omitted_because_the_default_backupstorage_fills_them():
    bc = changed(base_object("BackupConfiguration"), "spec.backends", DELETE)
    bc = changed(bc, "spec.sessions[0].repositories[0].backend", DELETE)
    assert validate(bc) == []


def test_blueprint_variables_are_not_checked_until_resolved():
    blueprint = next(o for o in valid_objects() if o["kind"] == "BackupBlueprint")
    assert "${schedule}" in str(blueprint) and validate(blueprint) == []


def test_the_same_repository_may_serve_two_sessions():
    bc = base_object("BackupConfiguration")
    second = {**bc["spec"]["sessions"][0], "name": "hourly-backup"}
    bc = changed(bc, "spec.sessions", [bc["spec"]["sessions"][0], second])
    assert validate(bc) == []


TWO_BACKENDS = [
    {"name": "b", "storageRef": {"name": "local-storage"}, "retentionPolicy": {"name": "r"}},
    {"name": "b", "storageRef": {"name": "other-storage"}, "retentionPolicy": {"name": "r"}},
]
REPO = {"backend": "local-backend", "encryptionSecret": {"name": "encrypt-secret"}}
SESSION = {
    "scheduler": {"schedule": "@daily"},
    "addon": {"name": "zookeeper-addon", "tasks": [{"name": "logical-backup"}]},
    "repositories": [{"name": "r1", "directory": "/d", **REPO}],
}
LONG_NAME = "a" * 64

# (case, kind, field to change, new value, path of the expected problem, words in its message)
INVALID = [
    (
        "storage-provider-unknown",
        "BackupStorage",
        "spec.storage.provider",
        "ftp",
        "spec.storage.provider",
        "is not one of",
    ),
    (
        "storage-missing",
        "BackupStorage",
        "spec.storage",
        DELETE,
        "spec.storage",
        "required field is missing",
    ),
    (
        "storage-provider-block-missing",
        "BackupStorage",
        "spec.storage.provider",
        "s3",
        "spec.storage.s3",
        'required when provider is "s3"',
    ),
    (
        "storage-deletion-policy",
        "BackupStorage",
        "spec.deletionPolicy",
        "Keep",
        "spec.deletionPolicy",
        "Delete, WipeOut",
    ),
    (
        "storage-selector-missing",
        "BackupStorage",
        "spec.usagePolicy.allowedNamespaces.from",
        "Selector",
        "spec.usagePolicy.allowedNamespaces.selector",
        'required when from is "Selector"',
    ),
    (
        "storage-default-not-bool",
        "BackupStorage",
        "spec.default",
        "yes",
        "spec.default",
        'expected true or false, got "yes"',
    ),
    (
        "storage-unknown-field",
        "BackupStorage",
        "spec.defualt",
        True,
        "spec.defualt",
        'did you mean "default"',
    ),
    (
        "storage-bad-name",
        "BackupStorage",
        "metadata.name",
        "Local_Storage",
        "metadata.name",
        "not a valid name",
    ),
    (
        "storage-name-too-long",
        "BackupStorage",
        "metadata.name",
        LONG_NAME,
        "metadata.name",
        "longer than 63",
    ),
    (
        "storage-name-missing",
        "BackupStorage",
        "metadata.name",
        DELETE,
        "metadata.name",
        "required field is missing",
    ),
    (
        "storage-bad-namespace",
        "BackupStorage",
        "metadata.namespace",
        "Demo",
        "metadata.namespace",
        "not a valid name",
    ),
    (
        "repository-path-missing",
        "Repository",
        "spec.path",
        DELETE,
        "spec.path",
        "required field is missing",
    ),
    (
        "repository-status-count-type",
        "Repository",
        "status.snapshotCount",
        "one",
        "status.snapshotCount",
        "expected an integer",
    ),
    (
        "snapshot-phase",
        "Snapshot",
        "status.phase",
        "Done",
        "status.phase",
        "Pending, Running, Succeeded, Failed",
    ),
    (
        "snapshot-driver",
        "Snapshot",
        "status.components.dump.driver",
        "Tar",
        "status.components.dump.driver",
        "is not one of",
    ),
    (
        "retention-nothing-to-keep",
        "RetentionPolicy",
        "spec",
        {"failedSnapshots": {"last": 1}},
        "spec",
        "at least one",
    ),
    (
        "retention-bad-period",
        "RetentionPolicy",
        "spec.maxRetentionPeriod",
        "30 days",
        "spec.maxRetentionPeriod",
        "not a valid duration",
    ),
    (
        "retention-negative",
        "RetentionPolicy",
        "spec.successfulSnapshots.last",
        -1,
        "spec.successfulSnapshots.last",
        "at least 0",
    ),
    (
        "bc-schedule-words",
        "BackupConfiguration",
        "spec.sessions[0].scheduler.schedule",
        "every day",
        "spec.sessions[0].scheduler.schedule",
        "not a valid cron expression",
    ),
    (
        "bc-schedule-seconds-field",
        "BackupConfiguration",
        "spec.sessions[0].scheduler.schedule",
        "0 */5 * * * *",
        "spec.sessions[0].scheduler.schedule",
        "not a valid cron expression",
    ),
    (
        "bc-duplicate-backend",
        "BackupConfiguration",
        "spec.backends",
        TWO_BACKENDS,
        "spec.backends[1].name",
        'duplicate backend "b"',
    ),
    (
        "bc-backend-storage-ref",
        "BackupConfiguration",
        "spec.backends[0].storageRef",
        DELETE,
        "spec.backends[0].storageRef",
        "required field is missing",
    ),
    (
        "bc-no-sessions",
        "BackupConfiguration",
        "spec.sessions",
        [],
        "spec.sessions",
        "at least one session",
    ),
    (
        "bc-sessions-not-a-list",
        "BackupConfiguration",
        "spec.sessions",
        {"name": "x"},
        "spec.sessions",
        "expected a list",
    ),
    (
        "bc-empty-session-name",
        "BackupConfiguration",
        "spec.sessions[0].name",
        "",
        "spec.sessions[0].name",
        "required field is missing",
    ),
    (
        "bc-session-name-upper",
        "BackupConfiguration",
        "spec.sessions[0].name",
        "Frequent",
        "spec.sessions[0].name",
        "not a valid name",
    ),
    (
        "bc-duplicate-session",
        "BackupConfiguration",
        "spec.sessions",
        [{"name": "s", **SESSION}, {"name": "s", **SESSION}],
        "spec.sessions[1].name",
        'duplicate session "s"',
    ),
    (
        "bc-no-scheduler",
        "BackupConfiguration",
        "spec.sessions[0].scheduler",
        DELETE,
        "spec.sessions[0].scheduler",
        "required field is missing",
    ),
    (
        "bc-no-addon-name",
        "BackupConfiguration",
        "spec.sessions[0].addon.name",
        DELETE,
        "spec.sessions[0].addon.name",
        "required field is missing",
    ),
    (
        "bc-no-tasks",
        "BackupConfiguration",
        "spec.sessions[0].addon.tasks",
        [],
        "spec.sessions[0].addon.tasks",
        "at least one task",
    ),
    (
        "bc-no-repositories",
        "BackupConfiguration",
        "spec.sessions[0].repositories",
        [],
        "spec.sessions[0].repositories",
        "at least one repository",
    ),
    (
        "bc-undeclared-backend",
        "BackupConfiguration",
        "spec.sessions[0].repositories[0].backend",
        "s3-backend",
        "spec.sessions[0].repositories[0].backend",
        "not one of the declared backends",
    ),
    (
        "bc-directory-missing",
        "BackupConfiguration",
        "spec.sessions[0].repositories[0].directory",
        DELETE,
        "spec.sessions[0].repositories[0].directory",
        "required field is missing",
    ),
    (
        "bc-duplicate-repository",
        "BackupConfiguration",
        "spec.sessions[0].repositories",
        [{"name": "r", "directory": "/a", **REPO}, {"name": "r", "directory": "/b", **REPO}],
        "spec.sessions[0].repositories[1].name",
        'duplicate repository "r"',
    ),
    (
        "bc-shared-directory",
        "BackupConfiguration",
        "spec.sessions[0].repositories",
        [{"name": "r1", "directory": "/zk", **REPO}, {"name": "r2", "directory": "/zk/", **REPO}],
        "spec.sessions[0].repositories[1].directory",
        'already used by repository "r1"',
    ),
    (
        "bc-backup-timeout",
        "BackupConfiguration",
        "spec.sessions[0].backupTimeout",
        "soon",
        "spec.sessions[0].backupTimeout",
        "not a valid duration",
    ),
    (
        "bc-old-timeout",
        "BackupConfiguration",
        "spec.sessions[0].timeout",
        "10 minutes",
        "spec.sessions[0].timeout",
        "not a valid duration",
    ),
    (
        "bc-concurrency-policy",
        "BackupConfiguration",
        "spec.sessions[0].scheduler.concurrencyPolicy",
        "Sometimes",
        "spec.sessions[0].scheduler.concurrencyPolicy",
        "Allow, Forbid, Replace",
    ),
    (
        "bc-history-limit-type",
        "BackupConfiguration",
        "spec.sessions[0].sessionHistoryLimit",
        "3",
        "spec.sessions[0].sessionHistoryLimit",
        'expected an integer, got "3"',
    ),
    (
        "bc-max-retry-zero",
        "BackupConfiguration",
        "spec.sessions[0].retryConfig",
        {"maxRetry": 0},
        "spec.sessions[0].retryConfig.maxRetry",
        "at least 1",
    ),
    (
        "bc-schedule-typo",
        "BackupConfiguration",
        "spec.sessions[0].scheduler.schedul",
        "@daily",
        "spec.sessions[0].scheduler.schedul",
        'did you mean "schedule"',
    ),
    (
        "bc-target-elsewhere",
        "BackupConfiguration",
        "spec.target.namespace",
        "prod",
        "spec.target.namespace",
        'own namespace "demo"',
    ),
    (
        "bc-target-missing",
        "BackupConfiguration",
        "spec.target",
        DELETE,
        "spec.target",
        "required field is missing",
    ),
    (
        "session-invoker-kind",
        "BackupSession",
        "spec.invoker.kind",
        "CronJob",
        "spec.invoker.kind",
        "BackupConfiguration, BackupBatch",
    ),
    (
        "session-name-missing",
        "BackupSession",
        "spec.session",
        DELETE,
        "spec.session",
        "required field is missing",
    ),
    (
        "restore-snapshot-missing",
        "RestoreSession",
        "spec.dataSource.snapshot",
        DELETE,
        "spec.dataSource.snapshot",
        "unless pitr",
    ),
    (
        "restore-latest-needs-repository",
        "RestoreSession",
        "spec.dataSource.repository",
        DELETE,
        "spec.dataSource.repository",
        'snapshot is "latest"',
    ),
    (
        "restore-pitr-needs-time",
        "RestoreSession",
        "spec.dataSource.pitr",
        {"exclusive": True},
        "spec.dataSource.pitr.targetTime",
        "required with pitr",
    ),
    (
        "restore-timeout",
        "RestoreSession",
        "spec.restoreTimeout",
        "1 hour",
        "spec.restoreTimeout",
        "not a valid duration",
    ),
    (
        "restore-no-data-source",
        "RestoreSession",
        "spec.dataSource",
        DELETE,
        "spec.dataSource",
        "required field is missing",
    ),
    (
        "blueprint-deletion-policy",
        "BackupBlueprint",
        "spec.backupConfigurationTemplate.deletionPolicy",
        "Never",
        "spec.backupConfigurationTemplate.deletionPolicy",
        "OnDelete",
    ),
    (
        "blueprint-no-sessions",
        "BackupBlueprint",
        "spec.backupConfigurationTemplate.sessions",
        [],
        "spec.backupConfigurationTemplate.sessions",
        "at least one session",
    ),
    (
        "addon-executor",
        "Addon",
        "spec.backupTasks[0].executor",
        "Pod",
        "spec.backupTasks[0].executor",
        "is not one of",
    ),
    (
        "addon-function-missing",
        "Addon",
        "spec.backupTasks[0].function",
        DELETE,
        "spec.backupTasks[0].function",
        "required field is missing",
    ),
    (
        "function-image-missing",
        "Function",
        "spec.image",
        DELETE,
        "spec.image",
        "required field is missing",
    ),
    (
        "appbinding-no-address",
        "AppBinding",
        "spec.clientConfig",
        {},
        "spec.clientConfig",
        "set url or service",
    ),
    (
        "appbinding-port-range",
        "AppBinding",
        "spec.clientConfig",
        {"service": {"name": "zk", "port": 70000}},
        "spec.clientConfig.service.port",
        "at most 65535",
    ),
    (
        "unknown-kind-in-served-group",
        "BackupConfiguration",
        "kind",
        "BackupConfig",
        "kind",
        "not a kind of core.kubestash.com/v1alpha1",
    ),
    (
        "unknown-version",
        "BackupConfiguration",
        "apiVersion",
        "core.kubestash.com/v1",
        "apiVersion",
        "use core.kubestash.com/v1alpha1",
    ),
    (
        "foreign-api-version",
        "BackupConfiguration",
        "apiVersion",
        "batch/v1",
        "apiVersion",
        '"batch/v1" is not served for BackupConfiguration',
    ),
    (
        "api-version-missing",
        "BackupConfiguration",
        "apiVersion",
        DELETE,
        "apiVersion",
        "required field is missing",
    ),
]


@pytest.mark.parametrize(
    ("kind", "field", "value", "path", "words"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_invalid_object_is_rejected_at_the_field_path(kind, field, value, path, words):
    problems = validate(changed(base_object(kind), field, value))
    assert any(p.path == path and words in p.message for p in problems), problems
