"""Snapshot controller: status from the backup result, carried forward, WipeOut forgets data."""

from __future__ import annotations

import copy
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from hooks.controllers import snapshot
from hooks.protocol import parse_request
from tests.hooks.storage_side_bodies import (
    NAMESPACE,
    assert_children_valid,
    assert_no_secret,
    assert_strict_keys,
    body,
    call,
    catalog,
    controller,
    job,
    planted_secret,
    repository,
    storage,
    terminated_pod,
)

SESSION = "sample-backup-frequent-backup-1764064800"
RESTIC_ID = "a" * 64
CTRL = controller("snapshot", "snapshots", "storage.kubestash.com/v1alpha1")
BACKUP_LABELS = {"kubestash.com/backup-session": SESSION}
JOB_KINDS = ["Job.batch/v1"]

RESULT = {
    "kind": "BackupResult",
    "version": 1,
    "phase": "Succeeded",
    "error": "",
    "startTime": "2026-11-25T10:00:00Z",
    "endTime": "2026-11-25T10:00:04Z",
    "durationSeconds": 4.2,
    "zookeeper": {"zxidStart": "0x1000002a", "zxidEnd": "0x1000002a"},
    "stream": {"format": 1, "znodes": 101001, "bytes": 35300000, "sha256": "0" * 64},
    "repositories": [
        {
            "name": "s3-repo",
            "phase": "Succeeded",
            "snapshotId": RESTIC_ID,
            "bytesAdded": 1296,
            "error": "",
        }
    ],
}


def parent(
    deletion_policy: str = "Delete", status: dict | None = None, deleting: bool = False
) -> dict:
    obj = {
        "apiVersion": "storage.kubestash.com/v1alpha1",
        "kind": "Snapshot",
        "metadata": {
            "name": "s3-repo-sample-backup-frequent-backup-1764064800",
            "namespace": NAMESPACE,
            "uid": "uid-snap",
            "generation": 1,
            "creationTimestamp": "2026-11-25T09:59:59Z",
        },
        "spec": {
            "snapshotID": "01KAXYZ",
            "type": "FullBackup",
            "repository": "s3-repo",
            "session": "frequent-backup",
            "backupSession": SESSION,
            "version": "v1",
            "deletionPolicy": deletion_policy,
        },
    }
    if status is not None:
        obj["status"] = status
    if deleting:
        obj["metadata"]["deletionTimestamp"] = "2026-11-26T00:00:00Z"
    return obj


def backup_objects(state: str = "Complete", result: dict | str = RESULT) -> list[dict]:
    objects = [job("backup-x", BACKUP_LABELS, "uid-backup-job", state)]
    if state != "Running":
        objects.append(terminated_pod("backup-x-pod", BACKUP_LABELS, result, "uid-backup-job"))
    return objects


def common_related() -> list[dict]:
    return [
        repository(),
        storage(),
        planted_secret("s3-secret"),
        planted_secret("encrypt-secret"),
        *catalog(),
    ]


def succeeded_status() -> dict:
    response = call(snapshot, body(CTRL, parent(), related=backup_objects(), child_kinds=JOB_KINDS))
    return response["status"]


def test_first_sync_without_a_backup_job_is_pending() -> None:
    response = call(snapshot, body(CTRL, parent(), child_kinds=JOB_KINDS))
    assert response == {"status": {"phase": "Pending"}, "children": []}


def test_running_backup_job_makes_the_dump_component_running() -> None:
    response = call(snapshot, body(CTRL, parent(), related=backup_objects("Running")))
    assert response["status"]["phase"] == "Running"
    assert response["status"]["components"]["dump"]["phase"] == "Running"


def test_succeeded_result_fills_the_dump_component() -> None:
    status = succeeded_status()
    assert status["phase"] == "Succeeded"
    assert status["snapshotTime"] == "2026-11-25T10:00:00Z"
    assert status["integrity"] is True
    assert status["totalComponents"] == 1
    assert status["size"] == "33.665 MiB"
    dump = status["components"]["dump"]
    assert dump["path"] == "repository/v1/frequent-backup/dump"
    assert dump["driver"] == "Restic"
    assert dump["duration"] == "4s"
    assert dump["resticStats"][0]["summary"]["id"] == RESTIC_ID
    assert dump["resticStats"][0]["summary"]["uploaded"] == "1.266 KiB"


def test_status_validates_against_the_snapshot_schema() -> None:
    from schemas.validation import validate

    obj = parent(status=succeeded_status())
    assert validate(obj) == []


def test_failed_repository_entry_fails_the_snapshot_with_its_error() -> None:
    result = copy.deepcopy(RESULT)
    result["phase"] = "Failed"
    result["repositories"][0] = {
        "name": "s3-repo",
        "phase": "Failed",
        "error": "bucket gone",
        "snapshotId": "",
        "bytesAdded": 0,
    }
    response = call(snapshot, body(CTRL, parent(), related=backup_objects("Failed", result)))
    assert response["status"]["phase"] == "Failed"
    assert response["status"]["components"]["dump"]["error"] == "bucket gone"
    assert "resticStats" not in response["status"]["components"]["dump"]


def test_job_failed_without_result_marks_the_backup_incomplete() -> None:
    objects = [job("backup-x", BACKUP_LABELS, "uid-backup-job", "Failed")]
    response = call(snapshot, body(CTRL, parent(), related=objects))
    status = response["status"]
    assert status["phase"] == "Failed"
    incomplete = next(c for c in status["conditions"] if c["type"] == "BackupIncomplete")
    assert incomplete["status"] == "True"
    assert incomplete["reason"] == "BackupExecutorTerminatedBeforeCompletion"
    assert "backup-x failed" in incomplete["message"]


def test_terminal_result_is_carried_forward_once_the_job_is_pruned() -> None:
    status = succeeded_status()
    response = call(snapshot, body(CTRL, parent(status={**status, "observedGeneration": 1})))
    assert response["status"] == status


def test_delete_policy_is_finalized_at_once_and_keeps_data() -> None:
    request = body(
        CTRL,
        parent("Delete", succeeded_status(), deleting=True),
        related=common_related(),
        child_kinds=JOB_KINDS,
        finalizing=True,
    )
    response = call(snapshot, request)
    assert response["finalized"] is True
    assert response["children"] == []


def test_wipeout_creates_a_forget_job_for_the_restic_snapshot() -> None:
    request = body(
        CTRL,
        parent("WipeOut", succeeded_status(), deleting=True),
        related=common_related(),
        child_kinds=JOB_KINDS,
        finalizing=True,
    )
    response = call(snapshot, request)
    assert response["finalized"] is False
    [cleanup] = response["children"]
    args = cleanup["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "forget"
    assert f"--snapshot={RESTIC_ID}" in args
    assert "--session=frequent-backup" in args
    repo_spec = json.loads(next(a for a in args if a.startswith("--repository="))[13:])
    assert repo_spec["path"] == "/zookeeper"
    assert_children_valid(response)
    assert_no_secret(response)
    assert_strict_keys(response)


def wipeout_with_cleanup(state: str) -> dict:
    first = call(
        snapshot,
        body(
            CTRL,
            parent("WipeOut", succeeded_status(), deleting=True),
            related=common_related(),
            child_kinds=JOB_KINDS,
            finalizing=True,
        ),
    )
    [cleanup] = first["children"]
    labels = cleanup["metadata"]["labels"]
    observed = job(cleanup["metadata"]["name"], labels, "uid-cleanup", state)
    pods = (
        []
        if state == "Running"
        else [
            terminated_pod(
                "cleanup-pod",
                labels,
                {
                    "kind": "ForgetResult",
                    "version": 1,
                    "phase": "Succeeded" if state == "Complete" else "Failed",
                    "error": "" if state == "Complete" else "repository locked",
                },
                "uid-cleanup",
            )
        ]
    )
    return call(
        snapshot,
        body(
            CTRL,
            parent("WipeOut", succeeded_status(), deleting=True),
            children=[observed],
            related=[*common_related(), *pods],
            child_kinds=JOB_KINDS,
            finalizing=True,
        ),
    )


def test_wipeout_is_finalized_only_after_the_forget_job_succeeded() -> None:
    assert wipeout_with_cleanup("Running")["finalized"] is False
    done = wipeout_with_cleanup("Complete")
    assert done["finalized"] is True
    forgotten = [c for c in done["status"]["conditions"] if c["type"] == "SnapshotDataForgotten"]
    assert forgotten[0]["status"] == "True"


def test_failed_forget_job_keeps_the_finalizer_and_says_why() -> None:
    response = wipeout_with_cleanup("Failed")
    assert response["finalized"] is False
    assert len(response["children"]) == 1
    condition = next(
        c for c in response["status"]["conditions"] if c["type"] == "SnapshotDataForgotten"
    )
    assert condition["status"] == "False"
    assert "repository locked" in condition["message"]


def test_wipeout_without_restic_id_has_nothing_to_forget() -> None:
    response = call(
        snapshot,
        body(
            CTRL,
            parent("WipeOut", {"phase": "Failed"}, deleting=True),
            related=common_related(),
            child_kinds=JOB_KINDS,
            finalizing=True,
        ),
    )
    assert response["finalized"] is True


def test_wipeout_waits_while_the_backup_is_still_running() -> None:
    response = call(
        snapshot,
        body(
            CTRL,
            parent("WipeOut", deleting=True),
            related=[*common_related(), *backup_objects("Running")],
            child_kinds=JOB_KINDS,
            finalizing=True,
        ),
    )
    assert response["finalized"] is False


def test_wipeout_with_missing_repository_waits_and_names_the_field() -> None:
    related = [storage(), *catalog()]
    response = call(
        snapshot,
        body(
            CTRL,
            parent("WipeOut", succeeded_status(), deleting=True),
            related=related,
            child_kinds=JOB_KINDS,
            finalizing=True,
        ),
    )
    assert response["finalized"] is False
    condition = next(
        c for c in response["status"]["conditions"] if c["type"] == "SnapshotDataForgotten"
    )
    assert condition["reason"] == "CleanupBlocked"
    assert "spec.repository" in condition["message"]


def test_customize_relates_the_session_jobs_repository_and_catalog() -> None:
    request = parse_request({"controller": CTRL, "parent": parent()})
    rules = snapshot.customize(request)["relatedResources"]
    resources = {rule["resource"] for rule in rules}
    assert resources == {
        "jobs",
        "pods",
        "backupsessions",
        "repositories",
        "backupstorages",
        "addons",
        "functions",
    }
    jobs_rule = next(rule for rule in rules if rule["resource"] == "jobs")
    assert jobs_rule["labelSelector"] == {"matchLabels": BACKUP_LABELS}
    session_rule = next(rule for rule in rules if rule["resource"] == "backupsessions")
    assert session_rule == {
        "apiVersion": "core.kubestash.com/v1alpha1",
        "resource": "backupsessions",
        "namespace": NAMESPACE,
        "names": [SESSION],
    }


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from(["Running", "Complete", "Failed"]),
    st.booleans(),
    st.sampled_from(["Delete", "WipeOut"]),
)
def test_property_same_request_gives_byte_identical_response(state, finalizing, policy) -> None:
    request = body(
        CTRL,
        parent(policy, deleting=finalizing),
        related=[*common_related(), *backup_objects(state)],
        child_kinds=JOB_KINDS,
        finalizing=finalizing,
    )
    first = json.dumps(call(snapshot, request), sort_keys=True)
    second = json.dumps(call(snapshot, copy.deepcopy(request)), sort_keys=True)
    assert first == second
    assert_no_secret(json.loads(first))


def test_failed_repository_entry_error_carries_the_reason_the_backup_gave() -> None:
    result = copy.deepcopy(RESULT)
    result["phase"] = "Failed"
    result["error"] = "dump root '/kafka' does not exist; no snapshot was kept"
    result["repositories"][0] = {
        "name": "s3-repo",
        "phase": "Failed",
        "error": "backup aborted: the dump did not complete",
        "snapshotId": "",
        "bytesAdded": 0,
    }
    response = call(snapshot, body(CTRL, parent(), related=backup_objects("Failed", result)))
    assert response["status"]["components"]["dump"]["error"] == (
        "backup aborted: the dump did not complete: "
        "dump root '/kafka' does not exist; no snapshot was kept"
    )
