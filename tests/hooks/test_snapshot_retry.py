"""Snapshot controller: a BackupSession that retries a failed backup attempt.

With ``retryConfig`` the BackupSession follows a failed attempt's Job with a new one (label
``kubestash.com/attempt``). While the session it observes has not finished, a failed attempt
keeps the Snapshot Running and says so; the Snapshot follows the newest attempt, and takes a
failed result once the session has Failed. Without an observed session a failed Job is final.
"""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hooks.controllers import snapshot
from hooks.protocol import SyncRequest, parse_request
from schemas.validation import validate
from tests.hooks.checks import check_response
from tests.hooks.storage_side_bodies import body, call, job, terminated_pod
from tests.hooks.test_snapshot import BACKUP_LABELS, CTRL, JOB_KINDS, RESULT, SESSION, parent
from tests.hooks.test_snapshot_session_without_job import (
    SESSION_KEY,
    backup_session,
    incomplete,
    sync,
)

# Job names end in a hash of their inputs: the retry's name sorts before the first attempt's.
FIRST_JOB = "backup-sample-backup-frequent-backup-9f3c"
RETRY_JOB = "backup-sample-backup-frequent-backup-1a7e"
RETRY_ID = "b" * 64
MISSING_ROOT = "zookeeper path /app/later does not exist"

FAILED_RESULT = {
    "kind": "BackupResult",
    "version": 1,
    "phase": "Failed",
    "error": MISSING_ROOT,
    "startTime": "2026-11-25T10:00:00Z",
    "endTime": "2026-11-25T10:00:01Z",
    "durationSeconds": 0.4,
    "stream": {"format": 1, "znodes": 0, "bytes": 0, "sha256": ""},
    "repositories": [
        {"name": "s3-repo", "phase": "Failed", "snapshotId": "", "bytesAdded": 0, "error": ""}
    ],
}
RETRY_RESULT = {
    **RESULT,
    "startTime": "2026-11-25T10:00:02Z",
    "endTime": "2026-11-25T10:00:04Z",
    "repositories": [{**RESULT["repositories"][0], "snapshotId": RETRY_ID}],
}
ATTEMPT_FAILED_MESSAGE = (
    f"Job {FIRST_JOB} (attempt 1) failed: {MISSING_ROOT}; BackupSession {SESSION} may retry it"
)


def attempt(number: int, name: str, state: str, result: dict | None = None) -> list[dict]:
    """A backup Job of one attempt (``Pending``, ``Running``, ``Complete`` or ``Failed``) and,
    once it ended, its pod with ``result`` as the termination message. Every Job is created in
    the same second, as a retry made right after a quick failure is."""
    labels = {**BACKUP_LABELS, "kubestash.com/attempt": str(number)}
    uid = f"uid-{name}"
    observed = job(name, labels, uid, "Running" if state == "Pending" else state)
    if state == "Pending":
        observed["status"] = {}
    if state in ("Pending", "Running"):
        return [observed]
    return [observed, terminated_pod(f"{name}-pod", labels, result or {}, uid)]


def checked_call(request: dict) -> dict:
    """One sync without the session helper's request shaping, checked like every response."""
    response = call(snapshot, request)
    check_response(response)
    assert validate(parent(status=response["status"])) == []
    return response


def first_attempt_failed() -> list[dict]:
    return attempt(0, FIRST_JOB, "Failed", FAILED_RESULT)


def retry(state: str) -> list[dict]:
    return attempt(1, RETRY_JOB, state, RETRY_RESULT)


def retry_pending_status() -> dict:
    """The Snapshot after the first attempt failed while its session still runs."""
    return sync(parent(), backup_session("Running"), first_attempt_failed())["status"]


@pytest.mark.parametrize("phase", [None, "Pending", "Running"])
def test_failed_attempt_keeps_the_snapshot_running_while_its_session_has_not_finished(
    phase: str | None,
) -> None:
    status = sync(parent(), backup_session(phase), first_attempt_failed())["status"]
    assert status["phase"] == "Running"
    assert status["components"] == {
        "dump": {
            "path": "repository/v1/frequent-backup/dump",
            "phase": "Running",
            "driver": "Restic",
        }
    }
    assert status["totalComponents"] == 1
    assert "snapshotTime" not in status and "size" not in status


def test_failed_attempt_is_named_in_an_unknown_backup_incomplete_condition() -> None:
    condition = incomplete(retry_pending_status())
    assert condition["status"] == "Unknown"
    assert condition["reason"] == "BackupAttemptFailed"
    assert condition["message"] == ATTEMPT_FAILED_MESSAGE
    # The failed Job's end is when it became known.
    assert condition["lastTransitionTime"] == "2026-11-25T10:00:05Z"


def test_snapshot_running_after_a_failed_attempt_is_not_carried_forward_as_terminal() -> None:
    before = retry_pending_status()
    again = sync(parent(status=before), backup_session("Running"), first_attempt_failed())
    assert again["status"] == before


def test_retry_not_started_yet_keeps_the_snapshot_running() -> None:
    status = sync(
        parent(status=retry_pending_status()),
        backup_session("Running"),
        [*first_attempt_failed(), *retry("Pending")],
    )["status"]
    assert status["phase"] == "Running"
    assert status["components"]["dump"]["phase"] == "Running"
    assert "conditions" not in status


def test_successful_retry_makes_the_snapshot_succeeded_with_its_result() -> None:
    status = sync(
        parent(status=retry_pending_status()),
        backup_session("Running"),
        [*first_attempt_failed(), *retry("Complete")],
    )["status"]
    assert status["phase"] == "Succeeded"
    assert status["snapshotTime"] == "2026-11-25T10:00:02Z"
    assert status["integrity"] is True
    dump = status["components"]["dump"]
    assert dump["phase"] == "Succeeded"
    assert "error" not in dump
    assert snapshot.restic_snapshot_id(status) == RETRY_ID
    condition = incomplete(status)
    assert (condition["status"], condition["message"]) == ("False", "the backup finished")


def test_failed_attempt_fails_the_snapshot_once_the_session_has_failed() -> None:
    status = sync(
        parent(status=retry_pending_status()), backup_session("Failed"), first_attempt_failed()
    )["status"]
    assert status["phase"] == "Failed"
    assert status["components"]["dump"]["phase"] == "Failed"
    assert status["components"]["dump"]["error"] == MISSING_ROOT
    assert incomplete(status)["status"] == "False"


def test_failed_last_retry_fails_the_snapshot_with_that_attempts_error() -> None:
    last = attempt(1, RETRY_JOB, "Failed", {**FAILED_RESULT, "error": "connection refused"})
    status = sync(parent(), backup_session("Failed"), [*first_attempt_failed(), *last])["status"]
    assert status["phase"] == "Failed"
    assert status["components"]["dump"]["error"] == "connection refused"


def test_failed_job_without_the_session_group_is_final() -> None:
    # A customize response cached from before the session was related: no session to wait for.
    request = body(CTRL, parent(), related=first_attempt_failed(), child_kinds=JOB_KINDS)
    assert SESSION_KEY not in request["related"]
    status = checked_call(request)["status"]
    assert status["phase"] == "Failed"
    assert status["components"]["dump"]["error"] == MISSING_ROOT


def test_failed_job_of_a_session_gone_is_final() -> None:
    status = sync(parent(), None, first_attempt_failed())["status"]
    assert status["phase"] == "Failed"
    assert status["components"]["dump"]["error"] == MISSING_ROOT


def test_failed_job_of_a_session_that_cannot_be_read_is_final() -> None:
    unreadable = backup_session("Running", spec={"invoker": "sample-backup"})
    status = sync(parent(), unreadable, first_attempt_failed())["status"]
    assert status["phase"] == "Failed"


def test_succeeded_attempt_is_final_at_once_while_the_session_runs() -> None:
    first = attempt(0, FIRST_JOB, "Complete", RESULT)
    status = sync(parent(), backup_session("Running"), first)["status"]
    assert status["phase"] == "Succeeded"


def test_higher_attempt_is_the_newest_job_when_both_share_a_creation_second() -> None:
    # No session to wait for, so only which Job counts decides the phase.
    request = body(
        CTRL,
        parent(),
        related=[*first_attempt_failed(), *retry("Complete")],
        child_kinds=JOB_KINDS,
    )
    assert snapshot.backup_job(snapshot_request(request))["metadata"]["name"] == RETRY_JOB
    assert checked_call(request)["status"]["phase"] == "Succeeded"


def test_newer_creation_second_is_the_newest_job_whatever_its_attempt_label() -> None:
    later = attempt(0, FIRST_JOB, "Failed", FAILED_RESULT)
    later[0]["metadata"]["creationTimestamp"] = "2026-11-25T10:00:01Z"
    request = body(CTRL, parent(), related=[*later, *retry("Complete")], child_kinds=JOB_KINDS)
    assert snapshot.backup_job(snapshot_request(request))["metadata"]["name"] == FIRST_JOB


def snapshot_request(request_body: dict) -> SyncRequest:
    """A request body parsed as the server parses it."""
    return parse_request(json.loads(json.dumps(request_body)))


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([None, "Pending", "Running"]), st.text(min_size=1, max_size=40))
def test_property_failed_newest_attempt_never_ends_a_snapshot_whose_session_runs(
    phase: str | None, error: str
) -> None:
    failed = attempt(0, FIRST_JOB, "Failed", {**FAILED_RESULT, "error": error})
    status = sync(parent(), backup_session(phase), failed)["status"]
    assert status["phase"] == "Running"
    assert incomplete(status)["status"] == "Unknown"


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from([None, "Pending", "Running", "Failed", "Skipped", "gone", "unrelated"]),
    st.sampled_from(["none", "Pending", "Running", "Complete", "Failed"]),
    st.booleans(),
)
def test_property_same_request_gives_byte_identical_response(
    phase: str | None, retry_state: str, carried: bool
) -> None:
    related = [*first_attempt_failed(), *([] if retry_state == "none" else retry(retry_state))]
    if phase not in ("gone", "unrelated"):
        related.append(backup_session(phase))
    request = body(
        CTRL,
        parent(status=retry_pending_status() if carried else None),
        related=related,
        child_kinds=JOB_KINDS,
    )
    if phase != "unrelated":
        request["related"].setdefault(SESSION_KEY, {})
    first = json.dumps(checked_call(request), sort_keys=True)
    assert first == json.dumps(call(snapshot, copy.deepcopy(request)), sort_keys=True)
