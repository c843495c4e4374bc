"""Bad input in a spec (DESIGN §2): the parent's own spec makes it Invalid/NotReady with a
condition naming the field and keeps every child; a related object whose spec has the wrong
shape is treated as unusable, and the message names that object and its field."""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest

from hooks import validity
from hooks.controllers import (
    backupblueprint,
    backupconfiguration,
    backupsession,
    backupstorage,
    repository,
    snapshot,
)
from hooks.protocol import ObjectIndex, parse_request
from schemas.validation import Problem
from tests.hooks import storage_side_bodies as side
from tests.hooks import world
from tests.hooks.checks import check_response, condition, kinds
from tests.hooks.test_backupblueprint import BLUEPRINT, annotated
from tests.hooks.test_snapshot import backup_objects, common_related
from tests.hooks.test_snapshot import parent as snapshot_parent

STORAGE = "storage.kubestash.com/v1alpha1"
STORAGE_CTRL = side.controller("backupstorage", "backupstorages", STORAGE)
REPOSITORY_CTRL = side.controller("repository", "repositories", STORAGE)
SNAPSHOT_CTRL = side.controller("snapshot", "snapshots", STORAGE)


def function(name: str) -> dict[str, Any]:
    """The shipped catalog Function of that name (a copy)."""
    return copy.deepcopy(
        next(o for o in side.catalog() if o["kind"] == "Function" and o["metadata"]["name"] == name)
    )


def catalog_with(replaced: dict[str, Any]) -> list[dict[str, Any]]:
    """The shipped catalog with one Function replaced."""
    name = replaced["metadata"]["name"]
    return [o for o in side.catalog() if o["metadata"]["name"] != name] + [replaced]


def storage_sync(parent: dict, children: list[dict] = (), related: list[dict] | None = None):
    related = [side.planted_secret("s3-secret"), *side.catalog()] if related is None else related
    request = side.body(STORAGE_CTRL, parent, list(children), related, ["Job.batch/v1"])
    return side.call(backupstorage, request)


def repository_related(**replace: dict[str, Any]) -> list[dict[str, Any]]:
    from tests.hooks.test_repository import backup_configuration, backup_session

    objects = {
        "storage": side.storage(),
        "bc": backup_configuration(),
        "session": backup_session(1764064801),
        "secret": side.planted_secret("s3-secret"),
    }
    objects.update(replace)
    return [*objects.values(), *side.catalog()]


def repository_sync(parent: dict, children: list[dict] = (), related: list[dict] | None = None):
    kinds_ = ["Job.batch/v1", "Snapshot.storage.kubestash.com/v1alpha1"]
    related = repository_related() if related is None else related
    return side.call(
        repository, side.body(REPOSITORY_CTRL, parent, list(children), related, kinds_)
    )


# ----------------------------------------------------------------------------- own spec


def test_backupstorage_with_a_storage_that_is_not_a_mapping_is_notready_and_keeps_its_job():
    first = [world.observed(c) for c in storage_sync(side.storage())["children"]]
    broken = side.storage()
    broken["spec"]["storage"] = True

    response = storage_sync(broken, first)

    assert response["status"]["phase"] == "NotReady"
    validation = condition(response["status"]["conditions"], "ValidationPassed")
    assert validation["status"] == "False"
    assert validation["message"] == "spec.storage: expected a mapping, got true"
    assert kinds(response) == [("Job", first[0]["metadata"]["name"])]


def test_backupstorage_with_an_unknown_deletion_policy_names_the_field():
    broken = side.storage(deletion_policy="Shred")
    response = storage_sync(broken)
    message = condition(response["status"]["conditions"], "ValidationPassed")["message"]
    assert message.startswith("spec.deletionPolicy:")


def test_an_invalid_backupstorage_being_deleted_waits_rather_than_guess_the_policy():
    broken = side.storage()
    broken["spec"]["deletionPolicy"] = ["WipeOut"]
    broken["metadata"]["deletionTimestamp"] = "2026-11-26T00:00:00Z"
    request = side.body(STORAGE_CTRL, broken, [], [], ["Job.batch/v1"], finalizing=True)
    response = side.call(backupstorage, request)
    assert response["finalized"] is False
    assert "spec.deletionPolicy" in response["status"]["conditions"][0]["message"]


def test_backupconfiguration_with_a_null_retention_policy_is_invalid_not_defaulted():
    bc = world.backup_configuration()
    bc["spec"]["backends"][0]["retentionPolicy"] = None
    body = world.sync_body(
        "backupconfiguration",
        bc,
        [],
        [world.namespace(), world.backup_storage(), world.retention_policy(), *world.catalog()],
    )
    response = backupconfiguration.sync(parse_request(body))
    assert response["status"]["phase"] == "Invalid"
    message = condition(response["status"]["conditions"], "ValidationPassed")["message"]
    assert message.startswith("spec.backends[0].retentionPolicy:")


def test_repository_with_an_encryption_secret_of_the_wrong_type_keeps_job_and_snapshots():
    first = [world.observed(c) for c in repository_sync(side.repository())["children"]]
    broken = side.repository()
    broken["spec"]["encryptionSecret"] = "encrypt-secret"

    response = repository_sync(broken, first)

    assert response["status"]["phase"] == "NotReady"
    message = condition(response["status"]["conditions"], "ValidationPassed")["message"]
    assert message == 'spec.encryptionSecret: expected a mapping, got "encrypt-secret"'
    assert sorted(kinds(response)) == sorted((c["kind"], c["metadata"]["name"]) for c in first)


def test_snapshot_with_a_spec_of_the_wrong_type_keeps_its_phase_and_names_the_field():
    parent = snapshot_parent("Delete")
    parent["status"] = {"phase": "Running"}
    parent["spec"] = ["not", "a", "mapping"]
    related = [*backup_objects("Running"), *common_related()]
    request = side.body(SNAPSHOT_CTRL, parent, [], related, ["Job.batch/v1"])
    response = side.call(snapshot, request)
    assert response["status"]["phase"] == "Running"
    message = condition(response["status"]["conditions"], "ValidationPassed")["message"]
    assert message == "spec: expected a mapping, got a list"


def test_a_long_list_of_problems_is_named_in_a_bounded_message():
    found = [Problem(f"spec.sessions[{i}].name", "required field is missing") for i in range(200)]
    message = validity.summary(found)
    assert len(message) <= validity.MESSAGE_LIMIT
    assert message.startswith("spec.sessions[0].name: required field is missing; ")
    assert message.endswith(" more")


# ----------------------------------------------------------------------------- related objects


def test_an_unusable_storage_is_named_with_its_field_in_the_backupconfiguration_status():
    storage = world.backup_storage(allowed_from="All")
    storage["spec"]["usagePolicy"] = "everyone"
    related = [world.namespace(), world.appbinding(), storage, world.retention_policy()]
    body = world.sync_body("backupconfiguration", world.backup_configuration(), [], related)
    response = backupconfiguration.sync(parse_request(body))
    check_response(response)
    (backend,) = response["status"]["backends"]
    assert backend["storage"]["reason"] == (
        'BackupStorage demo/s3-storage: spec.usagePolicy: expected a mapping, got "everyone"'
    )


def test_a_function_with_args_of_the_wrong_type_blocks_the_init_job_and_says_why():
    init = function("zookeeper-init-storage")
    init["spec"]["args"] = "init-storage --storage=${storage}"
    response = storage_sync(
        side.storage(), related=[side.planted_secret("s3-secret"), *catalog_with(init)]
    )
    initialized = condition(response["status"]["conditions"], "BackendInitialized")
    assert initialized["status"] == "False"
    assert initialized["message"].startswith(
        "Function zookeeper-init-storage: spec.args: expected a list"
    )
    assert response["children"] == []


def test_a_repository_names_its_storage_when_the_storage_spec_is_broken():
    storage = side.storage()
    storage["spec"]["storage"]["s3"] = "bucket"
    response = repository_sync(side.repository(), related=repository_related(storage=storage))
    initialized = condition(response["status"]["conditions"], "RepositoryInitialized")
    assert initialized["message"] == (
        "Repository demo/s3-repo: spec.storageRef: BackupStorage demo/s3-storage: "
        'spec.storage.s3: expected a mapping, got "bucket"'
    )


def test_a_repository_names_its_backupconfiguration_when_its_sessions_are_broken():
    from tests.hooks.test_repository import backup_configuration

    bc = backup_configuration()
    bc["spec"]["sessions"] = "frequent-backup"
    response = repository_sync(side.repository(), related=repository_related(bc=bc))
    retention = condition(response["status"]["conditions"], "RetentionPolicyApplied")
    assert retention["status"] == "False"
    assert retention["message"].startswith(
        "BackupConfiguration demo/sample-backup: spec.sessions: expected a list"
    )


def test_a_backupsession_whose_configuration_is_broken_is_skipped_and_names_the_field():
    from tests.hooks.test_backupsession import backup_session, configuration, world_objects

    bc = configuration()
    bc["spec"]["sessions"] = "frequent-backup"
    body = world.sync_body("backupsession", backup_session(), [], world_objects(bc))
    response = backupsession.sync(parse_request(body))
    assert response["status"]["phase"] == "Skipped"
    skipped = condition(response["status"]["conditions"], "BackupSkipped")
    assert skipped["message"].startswith(
        "BackupConfiguration demo/sample-zookeeper-backup: spec.sessions: expected a list"
    )


def test_a_broken_blueprint_keeps_the_attached_backupconfiguration(
    caplog: pytest.LogCaptureFixture,
) -> None:
    related = [world.namespace(), copy.deepcopy(BLUEPRINT)]
    first = world.sync_body("backupblueprint", annotated(), [], related, kind="DecoratorController")
    attached = [
        world.observed(a) for a in backupblueprint.sync(parse_request(first))["attachments"]
    ]
    broken = copy.deepcopy(BLUEPRINT)
    broken["spec"]["usagePolicy"] = 42
    body = world.sync_body(
        "backupblueprint",
        annotated(),
        attached,
        [world.namespace(), broken],
        kind="DecoratorController",
    )
    with caplog.at_level(logging.WARNING, logger="zkstash.hooks"):
        response = backupblueprint.sync(parse_request(body))
    assert [a["metadata"]["name"] for a in response["attachments"]] == [
        a["metadata"]["name"] for a in attached
    ]
    assert "spec.usagePolicy: expected a mapping, got 42" in caplog.text


def test_the_index_tells_a_rejected_object_from_a_missing_one():
    index = ObjectIndex.from_wire(
        {"BackupStorage.storage.kubestash.com/v1alpha1": {"demo/a": {"spec": True}}},
        "demo",
        "related",
        admit=lambda kind, api, obj, address: f"{kind} {address[1]}: spec: wrong",
    )
    assert index.get("BackupStorage", STORAGE, "a") is None
    assert index.missing("BackupStorage", STORAGE, "a") == "BackupStorage a: spec: wrong"
    assert index.missing("BackupStorage", STORAGE, "b") == "BackupStorage demo/b not found"
