"""Snapshot controller: a Snapshot whose BackupSession ended without a backup Job.

A Repository creates a Snapshot as soon as it sees a BackupSession; the session may then fail
before it runs a backup Job, or be pruned before it ever ran. No result can come any more, so
the Snapshot fails and says which session and why. A session still Pending or Running, or a
Snapshot already terminal, is left as it is.
"""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hooks.controllers import snapshot
from schemas.validation import validate
from tests.hooks.storage_side_bodies import (
    NAMESPACE,
    assert_children_valid,
    assert_no_secret,
    assert_strict_keys,
    body,
    call,
)
from tests.hooks.test_snapshot import (
    CTRL,
    JOB_KINDS,
    SESSION,
    backup_objects,
    common_related,
    parent,
    succeeded_status,
)

SESSION_KEY = "BackupSession.core.kubestash.com/v1alpha1"
SESSION_ENDED = "2026-11-25T10:00:03Z"
NOT_IN_CONFIGURATION = "session 'frequent-backup' not found in its BackupConfiguration"


def backup_session(
    phase: str | None, conditions: list[dict] | None = None, spec: dict | None = None
) -> dict:
    """The Snapshot's BackupSession as its controller leaves it (``phase`` None: not synced)."""
    obj = {
        "apiVersion": "core.kubestash.com/v1alpha1",
        "kind": "BackupSession",
        "metadata": {
            "name": SESSION,
            "namespace": NAMESPACE,
            "uid": "uid-session",
            "creationTimestamp": "2026-11-25T09:59:58Z",
        },
        "spec": spec
        or {
            "invoker": {
                "apiGroup": "core.kubestash.com",
                "kind": "BackupConfiguration",
                "name": "sample-backup",
            },
            "session": "frequent-backup",
        },
    }
    if phase is not None:
        obj["status"] = {"phase": phase, "conditions": conditions or []}
    return obj


def session_condition(type_: str, status: str, reason: str, message: str) -> dict:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "observedGeneration": 1,
        "lastTransitionTime": SESSION_ENDED,
    }


def failed_before_job() -> dict:
    """A session whose BackupConfiguration has no such session: Failed before any Job."""
    return backup_session(
        "Failed",
        [
            session_condition(
                "BackupExecutorEnsured", "False", "SessionNotFound", NOT_IN_CONFIGURATION
            )
        ],
    )


def sync(
    snapshot_parent: dict,
    session: dict | None,
    related: list[dict] = (),
    finalizing: bool = False,
) -> dict:
    """One sync with the BackupSession related by name, as the customize rule asks: present
    when ``session`` is given, an empty group when it no longer exists."""
    request = body(
        CTRL,
        snapshot_parent,
        related=[*related, *([session] if session is not None else [])],
        child_kinds=JOB_KINDS,
        finalizing=finalizing,
    )
    request["related"].setdefault(SESSION_KEY, {})
    response = call(snapshot, request)
    assert_strict_keys(response)
    assert_children_valid(response)
    assert_no_secret(response)
    assert validate(parent(status=response["status"])) == []
    return response


def incomplete(status: dict) -> dict:
    [condition] = [c for c in status["conditions"] if c["type"] == "BackupIncomplete"]
    return condition


def test_session_failed_before_any_job_fails_the_snapshot_with_its_reason() -> None:
    status = sync(parent(), failed_before_job())["status"]
    assert status["phase"] == "Failed"
    assert "components" not in status
    condition = incomplete(status)
    assert condition["status"] == "True"
    assert condition["reason"] == "BackupSessionFailedWithoutBackupJob"
    assert condition["message"] == (
        f"BackupSession {SESSION} failed without running a backup Job: {NOT_IN_CONFIGURATION}"
    )


def test_failed_snapshot_takes_the_time_the_session_ended() -> None:
    status = sync(parent(), failed_before_job())["status"]
    assert incomplete(status)["lastTransitionTime"] == SESSION_ENDED


def test_session_failed_on_its_own_spec_fails_the_snapshot_naming_the_field() -> None:
    invalid = backup_session(
        "Failed",
        [
            session_condition(
                "ValidationPassed",
                "False",
                "ResourceValidationFailed",
                "spec.backupTimeout: 'soon' is not a valid duration",
            )
        ],
    )
    condition = incomplete(sync(parent(), invalid)["status"])
    assert condition["message"] == (
        f"BackupSession {SESSION} failed without running a backup Job: "
        "spec.backupTimeout: 'soon' is not a valid duration"
    )


def test_session_that_cannot_be_read_fails_the_snapshot_naming_its_field() -> None:
    unreadable = backup_session(None, spec={"invoker": "sample-backup"})
    status = sync(parent(), unreadable)["status"]
    assert status["phase"] == "Failed"
    message = incomplete(status)["message"]
    assert message.startswith(
        f"BackupSession {SESSION} can never run a backup Job: BackupSession demo/{SESSION}:"
    )
    assert "spec.invoker" in message


def test_session_gone_without_a_job_fails_the_snapshot() -> None:
    status = sync(parent(), None)["status"]
    assert status["phase"] == "Failed"
    condition = incomplete(status)
    assert condition["reason"] == "BackupSessionNotFound"
    assert condition["message"] == (
        f"BackupSession {SESSION} no longer exists and never ran a backup Job"
    )
    # Without the session, the time is the Snapshot's own.
    assert condition["lastTransitionTime"] == "2026-11-25T09:59:59Z"


def test_session_not_related_at_all_says_nothing_about_it() -> None:
    # A customize response cached from before the session was related: no such group.
    request = body(CTRL, parent(), child_kinds=JOB_KINDS)
    assert SESSION_KEY not in request["related"]
    assert call(snapshot, request)["status"] == {"phase": "Pending"}


@pytest.mark.parametrize("phase", [None, "Pending", "Running"])
def test_snapshot_of_a_session_not_finished_stays_pending(phase: str | None) -> None:
    assert sync(parent(), backup_session(phase))["status"] == {"phase": "Pending"}


def test_snapshot_of_a_skipped_session_stays_pending_until_its_repository_deletes_it() -> None:
    skipped = backup_session(
        "Skipped",
        [
            session_condition(
                "BackupSkipped",
                "True",
                "PreRequisitesNotSatisfied",
                "BackupSession sample-backup-frequent-backup-1764064799 of the same target "
                "is Running",
            )
        ],
    )
    assert sync(parent(), skipped)["status"] == {"phase": "Pending"}


def test_session_failed_after_its_job_ran_leaves_the_verdict_to_the_job() -> None:
    # The session ran a Job (BackupExecutorEnsured True): only that Job's result counts.
    ran = backup_session(
        "Failed",
        [
            session_condition(
                "BackupExecutorEnsured", "True", "SuccessfullyEnsuredBackupExecutor", "ok"
            ),
            session_condition("BackupCompleted", "False", "BackupFailed", "bucket gone"),
        ],
    )
    assert sync(parent(), ran)["status"] == {"phase": "Pending"}


def test_a_running_job_outranks_a_failed_session() -> None:
    status = sync(parent(), failed_before_job(), backup_objects("Running"))["status"]
    assert status["phase"] == "Running"


def test_terminal_snapshot_is_kept_once_its_session_and_job_are_gone() -> None:
    done = succeeded_status()
    status = sync(parent(status={**done, "observedGeneration": 1}), None)["status"]
    assert status == done


def running_status() -> dict:
    return sync(parent(), backup_session("Running"), backup_objects("Running"))["status"]


def test_running_snapshot_stays_running_when_its_job_is_gone_but_the_session_runs() -> None:
    before = running_status()
    status = sync(parent(status=before), backup_session("Running"))["status"]
    assert status == before


def test_running_snapshot_fails_when_its_job_and_session_are_gone_without_a_result() -> None:
    status = sync(parent(status=running_status()), None)["status"]
    assert status["phase"] == "Failed"
    message = (
        f"BackupSession {SESSION} no longer exists and the result of its backup Job "
        "was never observed"
    )
    assert incomplete(status)["message"] == message
    assert status["components"]["dump"]["phase"] == "Failed"
    assert status["components"]["dump"]["error"] == message


def test_failed_snapshot_without_data_is_carried_forward_unchanged() -> None:
    failed = sync(parent(), failed_before_job())["status"]
    again = sync(parent(status={**failed, "observedGeneration": 1}), None)["status"]
    assert again == failed


@pytest.mark.parametrize("policy", ["Delete", "WipeOut"])
def test_snapshot_without_data_is_finalized_without_a_cleanup_job(policy: str) -> None:
    response = sync(
        parent(policy, deleting=True), failed_before_job(), common_related(), finalizing=True
    )
    assert response["finalized"] is True
    assert response["children"] == []


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from([None, "Pending", "Running", "Failed", "Skipped", "gone"]),
    st.booleans(),
)
def test_property_same_request_gives_byte_identical_status(phase, finalizing) -> None:
    session = None if phase == "gone" else backup_session(phase)
    if phase == "Failed":
        session = failed_before_job()
    request = body(
        CTRL,
        parent("WipeOut", deleting=finalizing),
        related=[*common_related(), *([session] if session else [])],
        child_kinds=JOB_KINDS,
        finalizing=finalizing,
    )
    request["related"].setdefault(SESSION_KEY, {})
    first = json.dumps(call(snapshot, request), sort_keys=True)
    assert first == json.dumps(call(snapshot, copy.deepcopy(request)), sort_keys=True)
