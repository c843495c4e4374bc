"""BackupSession hook: one backup Job for all repositories, results, retries, skips."""

import json

from hooks import names
from hooks.controllers import backupsession
from hooks.protocol import parse_request
from tests.hooks import world
from tests.hooks.checks import check_response, child, condition, kinds

BC = "sample-zookeeper-backup"
BS = f"{BC}-frequent-backup-1726572962"


def backup_session(name=BS, phase=None, created="2024-09-17T11:36:02Z", **spec):
    obj = {
        "apiVersion": "core.kubestash.com/v1alpha1",
        "kind": "BackupSession",
        "metadata": {
            "name": name,
            "namespace": "demo",
            "uid": f"uid-{name}",
            "generation": 1,
            "creationTimestamp": created,
        },
        "spec": {
            "invoker": {
                "apiGroup": "core.kubestash.com",
                "kind": "BackupConfiguration",
                "name": BC,
            },
            "session": "frequent-backup",
            **spec,
        },
    }
    if phase:
        obj["status"] = {"phase": phase}
    return obj


def repository(name, phase="Ready"):
    return {
        "apiVersion": "storage.kubestash.com/v1alpha1",
        "kind": "Repository",
        "metadata": {"name": name, "namespace": "demo"},
        "spec": {
            "appRef": {
                "apiGroup": "kubedb.com",
                "kind": "ZooKeeper",
                "name": "sample-zookeeper",
                "namespace": "demo",
            },
            "storageRef": {"name": "s3-storage", "namespace": "demo"},
            "path": f"/{name}",
            "encryptionSecret": {"name": "encrypt-secret", "namespace": "demo"},
        },
        "status": {"phase": phase},
    }


def configuration(**session_extra):
    bc = world.backup_configuration(
        sessions=[
            world.session(
                "frequent-backup",
                [("repo-a", "s3-backend"), ("repo-b", "s3-backend")],
                **session_extra,
            )
        ],
        status={"phase": "Ready"},
    )
    return bc


def world_objects(bc=None, repo_phase="Ready", extra=()):
    return [
        bc or configuration(),
        world.appbinding(),
        world.backup_storage(),
        repository("repo-a", repo_phase),
        repository("repo-b", repo_phase),
        *world.catalog(),
        *world.planted_secrets(),
        *extra,
    ]


def sync(parent, children=(), related=None):
    body = world.sync_body(
        "backupsession", parent, list(children), world_objects() if related is None else related
    )
    response = backupsession.sync(parse_request(body))
    check_response(response)
    return response


def finished_job(job, phase, error="", failed_reason=None):
    """A Job as observed after it ran, and its pod carrying the executor's result."""
    status = {"startTime": "2024-09-17T11:36:10Z", "completionTime": "2024-09-17T11:36:14Z"}
    if failed_reason:
        status = {
            "startTime": "2024-09-17T11:36:10Z",
            "conditions": [
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": failed_reason,
                    "message": "x",
                    "lastTransitionTime": "2024-09-17T11:36:20Z",
                }
            ],
        }
    else:
        status["conditions"] = [
            {"type": "Complete", "status": "True", "lastTransitionTime": "2024-09-17T11:36:14Z"}
        ]
    observed_job = world.observed(job, **status)
    result = {
        "kind": "BackupResult",
        "version": 1,
        "phase": phase,
        "error": error,
        "repositories": [
            {"name": "repo-a", "phase": phase, "snapshotId": "a" * 64},
            {"name": "repo-b", "phase": phase, "snapshotId": "b" * 64},
        ],
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{job['metadata']['name']}-x1",
            "namespace": "demo",
            "labels": job["spec"]["template"]["metadata"]["labels"],
            "ownerReferences": [{"uid": observed_job["metadata"]["uid"]}],
        },
        "status": {
            "containerStatuses": [
                {
                    "name": "executor",
                    "state": {
                        "terminated": {
                            "exitCode": 0 if phase == "Succeeded" else 1,
                            "message": json.dumps(result),
                        }
                    },
                }
            ]
        },
    }
    return observed_job, pod


def test_first_sync_creates_one_job_uploading_to_every_repository():
    response = sync(backup_session())
    job = child(response, "Job")
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    repos = [
        json.loads(a.removeprefix("--repository=")) for a in args if a.startswith("--repository=")
    ]
    assert [(r["name"], r["envPrefix"]) for r in repos] == [
        ("repo-a", "REPO0_"),
        ("repo-b", "REPO1_"),
    ]
    assert "--tag=" + BS in args and "--host=sample-zookeeper" in args
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert labels[names.LABEL_INVOKER_NAME] == BS
    assert labels[names.LABEL_COMPONENT] == "kubestash-backup"
    assert response["status"]["phase"] == "Running"
    assert [s["name"] for s in response["status"]["snapshots"]] == [
        names.snapshot_name("repo-a", BS),
        names.snapshot_name("repo-b", BS),
    ]


def test_backup_timeout_becomes_the_job_deadline():
    response = sync(backup_session(), related=world_objects(configuration(backupTimeout="2h")))
    assert child(response, "Job")["spec"]["activeDeadlineSeconds"] == 7200


def test_waits_pending_while_a_repository_is_not_ready():
    response = sync(backup_session(), related=world_objects(repo_phase="NotReady"))
    assert response["children"] == []
    assert response["status"]["phase"] == "Pending"
    assert (
        "repo-a is not Ready"
        in condition(response["status"]["conditions"], "BackupExecutorEnsured")["message"]
    )


def test_succeeded_job_makes_the_session_succeeded_with_duration():
    job = child(sync(backup_session()), "Job")
    observed_job, pod = finished_job(job, "Succeeded")
    response = sync(backup_session(), [observed_job], world_objects(extra=[pod]))
    assert response["status"]["phase"] == "Succeeded"
    assert response["status"]["duration"] == "4s"
    assert {s["phase"] for s in response["status"]["snapshots"]} == {"Succeeded"}
    assert kinds(response) == [("Job", job["metadata"]["name"])]


def test_failed_job_without_retry_config_fails_with_the_executor_error():
    job = child(sync(backup_session()), "Job")
    observed_job, pod = finished_job(
        job, "Failed", error="ZooKeeper unreachable", failed_reason="BackoffLimitExceeded"
    )
    response = sync(backup_session(), [observed_job], world_objects(extra=[pod]))
    assert response["status"]["phase"] == "Failed"
    completed = condition(response["status"]["conditions"], "BackupCompleted")
    assert completed["status"] == "False" and "ZooKeeper unreachable" in completed["message"]


def test_failed_job_is_retried_with_a_new_job_until_retries_run_out():
    bc = configuration(retryConfig={"maxRetry": 1})
    first = child(sync(backup_session(), related=world_objects(bc)), "Job")
    observed_first, pod1 = finished_job(
        first, "Failed", "boom", failed_reason="BackoffLimitExceeded"
    )
    retry = sync(backup_session(), [observed_first], world_objects(bc, extra=[pod1]))
    job_names = [n for k, n in kinds(retry) if k == "Job"]
    assert len(job_names) == 2 and first["metadata"]["name"] in job_names
    assert retry["status"]["phase"] == "Running" and retry["status"]["retried"] is True
    second = next(
        c for c in retry["children"] if c["metadata"]["name"] != first["metadata"]["name"]
    )
    assert second["metadata"]["labels"][names.LABEL_ATTEMPT] == "1"
    observed_second, pod2 = finished_job(
        second, "Failed", "still down", failed_reason="BackoffLimitExceeded"
    )
    done = sync(
        backup_session(), [observed_first, observed_second], world_objects(bc, extra=[pod1, pod2])
    )
    assert done["status"]["phase"] == "Failed"
    assert "still down" in condition(done["status"]["conditions"], "BackupCompleted")["message"]
    assert len(done["children"]) == 2


def test_terminal_session_carries_its_status_and_jobs_forward():
    parent = backup_session(phase="Succeeded")
    parent["status"]["duration"] = "4s"
    job = child(sync(backup_session()), "Job")
    observed_job, _ = finished_job(job, "Succeeded")
    response = sync(parent, [observed_job])
    assert response["status"] == parent["status"]
    assert kinds(response) == [("Job", job["metadata"]["name"])]


def test_skipped_while_another_session_of_the_same_target_runs():
    running = backup_session(
        name=f"{BC}-frequent-backup-1726570000", phase="Running", created="2024-09-17T10:00:00Z"
    )
    response = sync(backup_session(), related=world_objects(extra=[running]))
    assert response["status"]["phase"] == "Skipped"
    skipped = condition(response["status"]["conditions"], "BackupSkipped")
    assert skipped["status"] == "True" and "1726570000" in skipped["message"]
    assert response["children"] == []


def test_skipped_while_a_restore_of_the_same_target_runs():
    restore = {
        "apiVersion": "core.kubestash.com/v1alpha1",
        "kind": "RestoreSession",
        "metadata": {"name": "restore-1", "namespace": "demo"},
        "spec": {
            "target": {
                "apiGroup": "kubedb.com",
                "kind": "ZooKeeper",
                "name": "sample-zookeeper",
                "namespace": "demo",
            },
            "dataSource": {"repository": "s3-zookeeper-repo", "snapshot": "latest"},
        },
        "status": {"phase": "Running"},
    }
    response = sync(backup_session(), related=world_objects(extra=[restore]))
    assert response["status"]["phase"] == "Skipped"
    assert "restore-1" in condition(response["status"]["conditions"], "BackupSkipped")["message"]


def test_skipped_when_the_configuration_is_paused():
    bc = configuration()
    bc["spec"]["paused"] = True
    response = sync(backup_session(), related=world_objects(bc))
    assert response["status"]["phase"] == "Skipped"


def test_invalid_spec_fails_and_keeps_observed_jobs():
    job = child(sync(backup_session()), "Job")
    observed_job = world.observed(job, active=1)
    broken = backup_session(backupTimeout="soon")
    response = sync(broken, [observed_job])
    assert response["status"]["phase"] == "Failed"
    assert (
        "spec.backupTimeout"
        in condition(response["status"]["conditions"], "ValidationPassed")["message"]
    )
    assert kinds(response) == [("Job", job["metadata"]["name"])]


def test_backup_job_and_pods_carry_the_label_the_snapshot_controller_selects_by():
    from hooks.controllers import snapshot

    job = child(sync(backup_session()), "Job")
    snapshot_request = parse_request(
        {
            "controller": {"spec": {"hooks": {"sync": {"version": "v2"}}}},
            "parent": {
                "apiVersion": "storage.kubestash.com/v1alpha1",
                "kind": "Snapshot",
                "metadata": {"name": "s", "namespace": "demo", "uid": "u", "generation": 1},
                "spec": {
                    "snapshotID": "01J7ZQ2M4R0000000000000000",
                    "type": "FullBackup",
                    "repository": "s3-zookeeper-repo",
                    "session": "frequent-backup",
                    "backupSession": BS,
                    "version": "v1",
                    "deletionPolicy": "Delete",
                },
            },
        }
    )
    rules = snapshot.customize(snapshot_request)["relatedResources"]
    selectors = [
        r["labelSelector"]["matchLabels"]
        for r in rules
        if r["resource"] in ("jobs", "pods")
        and names.LABEL_BACKUP_SESSION in r["labelSelector"]["matchLabels"]
    ]
    assert len(selectors) == 2, "the Snapshot controller selects the backup Job and its Pods"
    for match_labels in selectors:
        assert match_labels.items() <= job["metadata"]["labels"].items()
        assert match_labels.items() <= job["spec"]["template"]["metadata"]["labels"].items()


def observed_snapshot(repo, phase):
    """A Snapshot the Repository created for this session, as last synced."""
    return {
        "apiVersion": "storage.kubestash.com/v1alpha1",
        "kind": "Snapshot",
        "metadata": {
            "name": names.snapshot_name(repo, BS),
            "namespace": "demo",
            "labels": {names.LABEL_BACKUP_SESSION: BS},
        },
        "spec": {"repository": repo, "session": "frequent-backup", "backupSession": BS},
        "status": {"phase": phase},
    }


def test_finished_result_outranks_a_snapshot_not_yet_synced_since():
    job = child(sync(backup_session()), "Job")
    observed_job, pod = finished_job(job, "Succeeded")
    stale = [observed_snapshot("repo-a", "Running"), observed_snapshot("repo-b", "Running")]
    response = sync(backup_session(), [observed_job], world_objects(extra=[pod, *stale]))
    assert response["status"]["phase"] == "Succeeded"
    assert [s["phase"] for s in response["status"]["snapshots"]] == ["Succeeded", "Succeeded"]


def test_a_terminal_snapshot_phase_is_kept_in_the_session_status():
    job = child(sync(backup_session()), "Job")
    observed_job, pod = finished_job(job, "Succeeded")
    done = [observed_snapshot("repo-a", "Failed"), observed_snapshot("repo-b", "Succeeded")]
    response = sync(backup_session(), [observed_job], world_objects(extra=[pod, *done]))
    assert [s["phase"] for s in response["status"]["snapshots"]] == ["Failed", "Succeeded"]


def finished_without_snapshots():
    """A session that Succeeded before the Repositories created its Snapshots, and its Job."""
    job = child(sync(backup_session()), "Job")
    observed_job, pod = finished_job(job, "Succeeded")
    response = sync(backup_session(), [observed_job], world_objects(extra=[pod]))
    assert condition(response["status"]["conditions"], "SnapshotsEnsured")["status"] == "False"
    return {**backup_session(), "status": response["status"]}, observed_job, pod


def test_finished_session_notes_snapshots_created_after_it_ended():
    parent, observed_job, pod = finished_without_snapshots()
    created_late = [observed_snapshot("repo-a", "Pending"), observed_snapshot("repo-b", "Pending")]
    response = sync(parent, [observed_job], world_objects(extra=[pod, *created_late]))
    ensured = condition(response["status"]["conditions"], "SnapshotsEnsured")
    assert ensured["status"] == "True"
    assert ensured["reason"] == "SuccessfullyEnsuredSnapshots"
    unchanged = {k: v for k, v in response["status"].items() if k != "conditions"}
    assert unchanged == {k: v for k, v in parent["status"].items() if k != "conditions"}
    assert kinds(response) == [("Job", observed_job["metadata"]["name"])]


def test_finished_session_keeps_waiting_to_see_a_snapshot_not_created_yet():
    parent, observed_job, pod = finished_without_snapshots()
    one_of_two = [observed_snapshot("repo-a", "Pending")]
    response = sync(parent, [observed_job], world_objects(extra=[pod, *one_of_two]))
    assert response["status"] == parent["status"]


def test_snapshots_ensured_stays_true_once_seen_although_a_snapshot_is_deleted_later():
    parent, observed_job, pod = finished_without_snapshots()
    both = [observed_snapshot("repo-a", "Succeeded"), observed_snapshot("repo-b", "Succeeded")]
    seen = sync(parent, [observed_job], world_objects(extra=[pod, *both]))["status"]
    retention_deleted_one = [observed_snapshot("repo-b", "Succeeded")]
    response = sync(
        {**parent, "status": seen},
        [observed_job],
        world_objects(extra=[pod, *retention_deleted_one]),
    )
    assert response["status"] == seen
