"""Repository controller: init Job, one Snapshot per BackupSession, retention by omission."""

from __future__ import annotations

import copy
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from hooks.controllers import repository as repository_controller
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

CTRL = controller("repository", "repositories", "storage.kubestash.com/v1alpha1")
KINDS = ["Job.batch/v1", "Snapshot.storage.kubestash.com/v1alpha1"]
INIT_LABELS = {"kubestash.com/invoker-kind": "Repository", "kubestash.com/invoker-name": "s3-repo"}


def backup_configuration() -> dict:
    return {
        "apiVersion": "core.kubestash.com/v1alpha1",
        "kind": "BackupConfiguration",
        "metadata": {"name": "sample-backup", "namespace": NAMESPACE, "uid": "uid-bc"},
        "spec": {
            "target": {
                "apiGroup": "kubedb.com",
                "kind": "ZooKeeper",
                "name": "sample-zookeeper",
                "namespace": NAMESPACE,
            },
            "backends": [
                {
                    "name": "s3-backend",
                    "storageRef": {"name": "s3-storage", "namespace": NAMESPACE},
                    "retentionPolicy": {"name": "keep-two", "namespace": NAMESPACE},
                }
            ],
            "sessions": [
                {
                    "name": "frequent-backup",
                    "scheduler": {"schedule": "*/5 * * * *"},
                    "addon": {"name": "zookeeper-addon", "tasks": [{"name": "logical-backup"}]},
                    "repositories": [
                        {
                            "name": "s3-repo",
                            "backend": "s3-backend",
                            "directory": "/zookeeper",
                            "encryptionSecret": {"name": "encrypt-secret"},
                        }
                    ],
                }
            ],
        },
    }


def retention_policy(spec: dict | None = None) -> dict:
    return {
        "apiVersion": "storage.kubestash.com/v1alpha1",
        "kind": "RetentionPolicy",
        "metadata": {"name": "keep-two", "namespace": NAMESPACE},
        "spec": spec or {"successfulSnapshots": {"last": 2}, "failedSnapshots": {"last": 1}},
    }


def backup_session(unix: int, phase: str = "Succeeded") -> dict:
    name = f"sample-backup-frequent-backup-{unix}"
    return {
        "apiVersion": "core.kubestash.com/v1alpha1",
        "kind": "BackupSession",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "uid": f"uid-{unix}",
            "creationTimestamp": f"2026-11-25T{10 + unix % 10:02d}:00:00Z",
        },
        "spec": {
            "invoker": {
                "apiGroup": "core.kubestash.com",
                "kind": "BackupConfiguration",
                "name": "sample-backup",
            },
            "session": "frequent-backup",
        },
        "status": {"phase": phase},
    }


def observed_snapshot(desired: dict, phase: str, hour: int, restic_id: str = "b" * 64) -> dict:
    """A Snapshot as the API server returns it after the Snapshot controller wrote status."""
    obj = copy.deepcopy(desired)
    obj["metadata"]["creationTimestamp"] = f"2026-11-25T{hour:02d}:00:00Z"
    obj["status"] = {
        "phase": phase,
        "snapshotTime": f"2026-11-25T{hour:02d}:00:00Z",
        "size": "1.000 KiB",
        "integrity": phase == "Succeeded",
        "components": {
            "dump": {
                "path": "repository/v1/frequent-backup/dump",
                "phase": phase,
                "resticStats": [{"summary": {"id": restic_id, "uploaded": "1.000 KiB"}}],
            }
        },
    }
    return obj


def related(sessions: list[dict], policy: dict | None = None) -> list[dict]:
    objects = [
        storage(),
        backup_configuration(),
        *sessions,
        planted_secret("s3-secret"),
        *catalog(),
    ]
    if policy is not None:
        objects.append(policy)
    return objects


def snapshots_of(response: dict) -> dict[str, dict]:
    return {c["metadata"]["name"]: c for c in response["children"] if c["kind"] == "Snapshot"}


def init_job_of(response: dict) -> dict:
    return next(c for c in response["children"] if c["kind"] == "Job")


def test_first_sync_creates_init_job_and_one_snapshot_per_backup_session() -> None:
    sessions = [backup_session(1764064801), backup_session(1764064802)]
    response = call(
        repository_controller,
        body(CTRL, repository(), related=related(sessions, retention_policy()), child_kinds=KINDS),
    )
    assert sorted(snapshots_of(response)) == [
        "s3-repo-sample-backup-frequent-backup-1764064801",
        "s3-repo-sample-backup-frequent-backup-1764064802",
    ]
    args = init_job_of(response)["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "init-repository"
    assert "--session" in args and "frequent-backup" in args
    assert response["status"]["phase"] == "NotReady"
    assert_children_valid(response)
    assert_strict_keys(response)
    assert_no_secret(response)


def test_skipped_backup_sessions_get_no_snapshot() -> None:
    response = call(
        repository_controller,
        body(
            CTRL,
            repository(),
            related=related([backup_session(1764064801, "Skipped")], retention_policy()),
            child_kinds=KINDS,
        ),
    )
    assert snapshots_of(response) == {}


def test_succeeded_init_job_makes_the_repository_ready() -> None:
    first = call(
        repository_controller,
        body(CTRL, repository(), related=related([], retention_policy()), child_kinds=KINDS),
    )
    name = init_job_of(first)["metadata"]["name"]
    pod = terminated_pod(
        "init-pod",
        INIT_LABELS,
        {"kind": "InitResult", "version": 1, "phase": "Succeeded", "error": ""},
        "uid-init",
    )
    response = call(
        repository_controller,
        body(
            CTRL,
            repository(),
            children=[job(name, INIT_LABELS, "uid-init", "Complete")],
            related=[*related([], retention_policy()), pod],
            child_kinds=KINDS,
        ),
    )
    assert response["status"]["phase"] == "Ready"
    initialized = next(
        c for c in response["status"]["conditions"] if c["type"] == "RepositoryInitialized"
    )
    assert initialized["reason"] == "RepositoryInitializationSucceeded"


def test_failed_init_job_reports_its_error() -> None:
    first = call(
        repository_controller,
        body(CTRL, repository(), related=related([], retention_policy()), child_kinds=KINDS),
    )
    name = init_job_of(first)["metadata"]["name"]
    pod = terminated_pod(
        "init-pod",
        INIT_LABELS,
        {"kind": "InitResult", "version": 1, "phase": "Failed", "error": "wrong password"},
        "uid-init",
    )
    response = call(
        repository_controller,
        body(
            CTRL,
            repository(),
            children=[job(name, INIT_LABELS, "uid-init", "Failed")],
            related=[*related([], retention_policy()), pod],
            child_kinds=KINDS,
        ),
    )
    assert response["status"]["phase"] == "NotReady"
    initialized = next(
        c for c in response["status"]["conditions"] if c["type"] == "RepositoryInitialized"
    )
    assert initialized["status"] == "False"
    assert "wrong password" in initialized["message"]


def three_observed_snapshots(deletion_policy_of_oldest: str = "Delete") -> list[dict]:
    """Three Succeeded Snapshots whose BackupSessions were already pruned."""
    first = call(
        repository_controller,
        body(
            CTRL,
            repository(),
            related=related(
                [
                    backup_session(1764064801),
                    backup_session(1764064802),
                    backup_session(1764064803),
                ],
                retention_policy({"successfulSnapshots": {"last": 10}}),
            ),
            child_kinds=KINDS,
        ),
    )
    desired = sorted(snapshots_of(first).items())
    observed = [observed_snapshot(obj, "Succeeded", 11 + i) for i, (_, obj) in enumerate(desired)]
    observed[0]["spec"]["deletionPolicy"] = deletion_policy_of_oldest
    return observed


def test_snapshots_outlive_their_pruned_backup_sessions() -> None:
    observed = three_observed_snapshots()
    response = call(
        repository_controller,
        body(
            CTRL,
            repository(),
            children=observed,
            related=related([], retention_policy({"successfulSnapshots": {"last": 10}})),
            child_kinds=KINDS,
        ),
    )
    assert len(snapshots_of(response)) == 3
    assert response["status"]["snapshotCount"] == 3
    assert response["status"]["lastBackupTime"] == "2026-11-25T13:00:00Z"
    assert response["status"]["recentSnapshots"][0]["snapshotTime"] == "2026-11-25T13:00:00Z"
    assert response["status"]["componentPaths"] == ["repository/v1/frequent-backup/dump"]
    assert response["status"]["size"] == "3.000 KiB"


def test_retention_first_marks_a_dropped_snapshot_wipeout() -> None:
    observed = three_observed_snapshots()
    response = call(
        repository_controller,
        body(
            CTRL,
            repository(),
            children=observed,
            related=related([], retention_policy()),
            child_kinds=KINDS,
        ),
    )
    children = snapshots_of(response)
    oldest = observed[0]["metadata"]["name"]
    assert len(children) == 3
    assert children[oldest]["spec"]["deletionPolicy"] == "WipeOut"
    assert response["status"]["snapshotCount"] == 2
    assert_children_valid(response)


def test_retention_omits_a_dropped_snapshot_once_it_is_marked() -> None:
    observed = three_observed_snapshots(deletion_policy_of_oldest="WipeOut")
    response = call(
        repository_controller,
        body(
            CTRL,
            repository(),
            children=observed,
            related=related([], retention_policy()),
            child_kinds=KINDS,
        ),
    )
    children = snapshots_of(response)
    assert observed[0]["metadata"]["name"] not in children
    assert all(c["spec"]["deletionPolicy"] == "Delete" for c in children.values())


def test_snapshot_of_a_running_session_is_never_dropped() -> None:
    observed = three_observed_snapshots()
    running = backup_session(1764064809, "Running")
    response = call(
        repository_controller,
        body(
            CTRL,
            repository(),
            children=observed,
            related=related([running], retention_policy({"successfulSnapshots": {"last": 1}})),
            child_kinds=KINDS,
        ),
    )
    name = "s3-repo-sample-backup-frequent-backup-1764064809"
    assert snapshots_of(response)[name]["spec"]["deletionPolicy"] == "Delete"


def test_missing_retention_policy_keeps_every_snapshot_and_says_so() -> None:
    observed = three_observed_snapshots()
    response = call(
        repository_controller,
        body(CTRL, repository(), children=observed, related=related([]), child_kinds=KINDS),
    )
    assert all(c["spec"]["deletionPolicy"] == "Delete" for c in snapshots_of(response).values())
    condition = next(
        c for c in response["status"]["conditions"] if c["type"] == "RetentionPolicyApplied"
    )
    assert condition["status"] == "False"
    assert "RetentionPolicy demo/keep-two not found" in condition["message"]


def test_invalid_retention_policy_names_the_field_and_keeps_snapshots() -> None:
    observed = three_observed_snapshots()
    bad = retention_policy({"maxRetentionPeriod": "soon"})
    response = call(
        repository_controller,
        body(CTRL, repository(), children=observed, related=related([], bad), child_kinds=KINDS),
    )
    assert len(snapshots_of(response)) == 3
    condition = next(
        c for c in response["status"]["conditions"] if c["type"] == "RetentionPolicyApplied"
    )
    assert "spec.maxRetentionPeriod" in condition["message"]


def test_missing_storage_keeps_observed_init_job_and_names_the_field() -> None:
    first = call(
        repository_controller,
        body(CTRL, repository(), related=related([], retention_policy()), child_kinds=KINDS),
    )
    observed_job = job(init_job_of(first)["metadata"]["name"], INIT_LABELS, "uid-init", "Complete")
    response = call(
        repository_controller,
        body(
            CTRL,
            repository(),
            children=[observed_job],
            related=[backup_configuration(), retention_policy(), *catalog()],
            child_kinds=KINDS,
        ),
    )
    assert [c["metadata"]["name"] for c in response["children"] if c["kind"] == "Job"] == [
        observed_job["metadata"]["name"]
    ]
    condition = next(
        c for c in response["status"]["conditions"] if c["type"] == "RepositoryInitialized"
    )
    assert "spec.storageRef" in condition["message"]


def test_status_validates_against_the_repository_schema() -> None:
    from schemas.validation import validate

    observed = three_observed_snapshots()
    response = call(
        repository_controller,
        body(
            CTRL,
            repository(),
            children=observed,
            related=related([], retention_policy()),
            child_kinds=KINDS,
        ),
    )
    assert validate({**repository(), "status": response["status"]}) == []


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=3), st.booleans(), st.booleans())
def test_property_response_is_deterministic_and_never_loses_children(keep, has_policy, broken):
    observed = three_observed_snapshots()
    policy = retention_policy({"successfulSnapshots": {"last": keep}}) if has_policy else None
    objects = related([], policy)
    if broken:  # a half-written world: the storage and catalog are gone
        objects = [o for o in objects if o["kind"] not in ("BackupStorage", "Function")]
    request = body(CTRL, repository(), children=observed, related=objects, child_kinds=KINDS)
    first = call(repository_controller, request)
    assert json.dumps(first, sort_keys=True) == json.dumps(
        call(repository_controller, copy.deepcopy(request)), sort_keys=True
    )
    # Retention only marks on this sync: nothing observed disappears at once.
    assert set(snapshots_of(first)) >= {o["metadata"]["name"] for o in observed}
    assert_no_secret(first)


def test_finalize_deletes_snapshots_first_and_waits_for_them() -> None:
    observed = three_observed_snapshots()
    parent = repository()
    parent["metadata"]["deletionTimestamp"] = "2026-11-26T00:00:00Z"
    waiting = call(
        repository_controller,
        body(
            CTRL,
            parent,
            children=observed,
            related=related([], retention_policy()),
            child_kinds=KINDS,
            finalizing=True,
        ),
    )
    assert snapshots_of(waiting) == {}
    assert waiting["finalized"] is False
    done = call(
        repository_controller,
        body(
            CTRL,
            parent,
            related=related([], retention_policy()),
            child_kinds=KINDS,
            finalizing=True,
        ),
    )
    assert done["finalized"] is True
