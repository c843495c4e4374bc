"""RestoreSession controller: one restore Job of a pinned Snapshot, status by KubeStash's rules.

Every test builds its request body from the world below: a RestoreSession in ``demo`` restoring
into the ZooKeeper ``sample-zookeeper``, Snapshots of Repository ``s3-repo`` (in ``demo``, or in
``prod`` for cross-namespace restores), the shipped Addon catalog and the one Secret customize
relates (the spec's encryption Secret), holding a planted value that must never reach a response.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hooks.controllers import restoresession
from hooks.protocol import LAST_APPLIED_ANNOTATION, parse_request
from schemas.validation import validate
from tests.hooks.storage_side_bodies import (
    NAMESPACE,
    assert_children_valid,
    assert_no_secret,
    assert_strict_keys,
    body,
    call,
    catalog,
    controller,
    planted_secret,
    terminated_pod,
)
from tests.hooks.storage_side_bodies import job as observed_job_shape

CTRL = controller("restoresession", "restoresessions", "core.kubestash.com/v1alpha1")
JOB_KINDS = ["Job.batch/v1"]
RESTORE = "sample-zookeeper-restore"
OLD_ID = "a" * 64
NEW_ID = "b" * 64
NEWER_ID = "c" * 64
OLD = "s3-repo-sample-backup-frequent-backup-1764064800"
NEW = "s3-repo-sample-backup-frequent-backup-1764068400"
NEWER = "s3-repo-sample-backup-frequent-backup-1764072000"
POD_LABELS = {
    "kubestash.com/invoker-kind": "RestoreSession",
    "kubestash.com/invoker-name": RESTORE,
}
TARGET = {"apiGroup": "kubedb.com", "kind": "ZooKeeper", "name": "sample-zookeeper"}

RESTORE_RESULT = {
    "kind": "RestoreResult",
    "version": 1,
    "phase": "Succeeded",
    "error": "",
    "startTime": "2026-11-25T10:00:01Z",
    "endTime": "2026-11-25T10:00:04Z",
    "durationSeconds": 3.4,
    "snapshotId": NEW_ID,
    "stream": {"format": 1, "znodes": 1001, "bytes": 35300, "sha256": "0" * 64},
    "znodes": {"created": 990, "updated": 0, "skipped": 11, "deleted": 0, "sequencePadded": 2},
}


# ----------------------------------------------------------------------------- the world


def restore_session(
    data_source: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """RestoreSession demo/sample-zookeeper-restore (latest of s3-repo unless told)."""
    source = {
        "repository": "s3-repo",
        "snapshot": "latest",
        "encryptionSecret": {"name": "encrypt-secret", "namespace": NAMESPACE},
    }
    obj = {
        "apiVersion": "core.kubestash.com/v1alpha1",
        "kind": "RestoreSession",
        "metadata": {
            "name": RESTORE,
            "namespace": NAMESPACE,
            "uid": "uid-restore",
            "generation": 1,
            "creationTimestamp": "2026-11-25T09:59:00Z",
        },
        "spec": {
            "target": {**TARGET, "namespace": NAMESPACE},
            "dataSource": {**source, **(data_source or {})},
            "addon": {"name": "zookeeper-addon", "tasks": [{"name": "logical-backup-restore"}]},
            **spec,
        },
    }
    if status is not None:
        obj["status"] = status
    return obj


def backup_storage(
    namespace: str = NAMESPACE, usage_from: str = "All", selector: dict | None = None
) -> dict[str, Any]:
    """BackupStorage s3-storage on S3, credentials in Secret s3-secret."""
    policy: dict[str, Any] = {"from": usage_from}
    if selector is not None:
        policy["selector"] = selector
    return {
        "apiVersion": "storage.kubestash.com/v1alpha1",
        "kind": "BackupStorage",
        "metadata": {"name": "s3-storage", "namespace": namespace, "generation": 1},
        "spec": {
            "storage": {
                "provider": "s3",
                "s3": {
                    "endpoint": "http://127.0.0.1:8333/",
                    "bucket": "zk",
                    "prefix": "demo",
                    "secretName": "s3-secret",
                },
            },
            "usagePolicy": {"allowedNamespaces": policy},
            "deletionPolicy": "Delete",
        },
        "status": {"phase": "Ready"},
    }


def repository(namespace: str = NAMESPACE) -> dict[str, Any]:
    """Repository s3-repo at /zookeeper on s3-storage (same namespace)."""
    return {
        "apiVersion": "storage.kubestash.com/v1alpha1",
        "kind": "Repository",
        "metadata": {"name": "s3-repo", "namespace": namespace, "generation": 1},
        "spec": {
            "appRef": {**TARGET, "namespace": namespace},
            "storageRef": {"name": "s3-storage", "namespace": namespace},
            "path": "/zookeeper",
            "deletionPolicy": "Delete",
            "encryptionSecret": {"name": "repo-encrypt-secret", "namespace": namespace},
        },
        "status": {"phase": "Ready"},
    }


def snapshot(
    name: str,
    restic_id: str | None,
    snapshot_time: str,
    phase: str = "Succeeded",
    namespace: str = NAMESPACE,
    repo: str = "s3-repo",
) -> dict[str, Any]:
    """A Snapshot of ``repo`` taken by session frequent-backup."""
    status: dict[str, Any] = {"phase": phase, "snapshotTime": snapshot_time}
    if restic_id is not None:
        status["components"] = {
            "dump": {
                "path": "repository/v1/frequent-backup/dump",
                "phase": phase,
                "driver": "Restic",
                "resticStats": [{"summary": {"id": restic_id}}],
            }
        }
    return {
        "apiVersion": "storage.kubestash.com/v1alpha1",
        "kind": "Snapshot",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"kubestash.com/repo-name": repo},
            "creationTimestamp": snapshot_time,
        },
        "spec": {
            "repository": repo,
            "session": "frequent-backup",
            "backupSession": name.removeprefix(f"{repo}-"),
            "version": "v1",
            "type": "FullBackup",
        },
        "status": status,
    }


def appbinding() -> dict[str, Any]:
    """The AppBinding KubeDB creates for sample-zookeeper (auth Secret sample-zookeeper-auth)."""
    return {
        "apiVersion": "appcatalog.appscode.com/v1alpha1",
        "kind": "AppBinding",
        "metadata": {"name": "sample-zookeeper", "namespace": NAMESPACE},
        "spec": {
            "type": "kubedb.com/zookeeper",
            "clientConfig": {"service": {"name": "sample-zookeeper", "port": 2181}},
            "secret": {"name": "sample-zookeeper-auth"},
        },
    }


def backup_configuration(name: str, target_name: str) -> dict[str, Any]:
    """A BackupConfiguration in demo backing up ``target_name``."""
    return {
        "apiVersion": "core.kubestash.com/v1alpha1",
        "kind": "BackupConfiguration",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "target": {**TARGET, "name": target_name, "namespace": NAMESPACE},
            "backends": [
                {"name": "s3-backend", "storageRef": {"name": "s3-storage", "namespace": NAMESPACE}}
            ],
            "sessions": [
                {
                    "name": "frequent-backup",
                    "scheduler": {"schedule": "*/5 * * * *"},
                    "repositories": [
                        {"name": f"{name}-repo", "backend": "s3-backend", "directory": f"/{name}"}
                    ],
                    "addon": {"name": "zookeeper-addon", "tasks": [{"name": "logical-backup"}]},
                }
            ],
        },
    }


def namespace_object(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/metadata.name": name, **(labels or {})},
        },
    }


def secrets(namespace: str = NAMESPACE) -> list[dict[str, Any]]:
    """The Secrets Metacontroller sends: those the spec names (customize relates only these),
    each holding the planted value."""
    return [planted_secret("encrypt-secret", namespace)]


def world(
    source_namespace: str = NAMESPACE,
    usage_from: str = "All",
    snapshots: list[dict[str, Any]] | None = None,
    without: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """Related objects: storage, repository, two Snapshots (OLD, NEW), target, BCs, catalog."""
    objects = [
        backup_storage(source_namespace, usage_from),
        repository(source_namespace),
        *(
            snapshots
            if snapshots is not None
            else [
                snapshot(OLD, OLD_ID, "2026-11-25T09:00:00Z", namespace=source_namespace),
                snapshot(NEW, NEW_ID, "2026-11-25T10:00:00Z", namespace=source_namespace),
            ]
        ),
        appbinding(),
        backup_configuration("sample-backup", "sample-zookeeper"),
        backup_configuration("other-backup", "other-zookeeper"),
        namespace_object(NAMESPACE, {"team": "zk"}),
        *secrets(),
        *catalog(),
    ]
    return [o for o in objects if o["metadata"]["name"] not in without]


def sync(parent: dict, related: list[dict], children: list[dict] = ()) -> dict[str, Any]:
    """The controller's response, checked for strict keys, valid children and no secrets."""
    response = call(
        restoresession, body(CTRL, parent, list(children), related, child_kinds=JOB_KINDS)
    )
    assert_strict_keys(response)
    assert_children_valid(response)
    assert_no_secret(response)
    return response


def the_job(response: dict[str, Any]) -> dict[str, Any]:
    [job] = [c for c in response["children"] if c["kind"] == "Job"]
    return job


def container(job: dict[str, Any]) -> dict[str, Any]:
    return job["spec"]["template"]["spec"]["containers"][0]


def observed(
    desired: dict[str, Any], state: str, result: dict[str, Any] | str | None = None
) -> list[dict[str, Any]]:
    """The Job as Metacontroller sees it after applying ``desired``, plus its pod's result.

    ``state`` is Running, Complete or Failed (times 10:00:00 → 10:00:05).
    """
    job = copy.deepcopy(desired)
    job["metadata"]["uid"] = "uid-restore-job"
    job["metadata"]["creationTimestamp"] = "2026-11-25T10:00:00Z"
    job["metadata"]["annotations"] = {
        **job["metadata"].get("annotations", {}),
        LAST_APPLIED_ANNOTATION: json.dumps(desired, sort_keys=True),
    }
    job["status"] = observed_job_shape("x", {}, "uid", state)["status"]
    objects = [job]
    if result is not None:
        objects.append(terminated_pod("restore-pod", POD_LABELS, result, "uid-restore-job"))
    return objects


def condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == type_)


def waiting_pod(message: str, job_uid: str = "uid-restore-job") -> dict[str, Any]:
    """The restore Job's pod as the kubelet leaves it when it cannot configure the container
    (a secretKeyRef naming a missing Secret or key): Pending, CreateContainerConfigError."""
    pod = terminated_pod("restore-pod", POD_LABELS, "", job_uid)
    pod["status"] = {
        "phase": "Pending",
        "containerStatuses": [
            {
                "name": "executor",
                "ready": False,
                "restartCount": 0,
                "image": "executor",
                "imageID": "",
                "state": {"waiting": {"reason": "CreateContainerConfigError", "message": message}},
            }
        ],
    }
    return pod


def waiting_for(message: str, parent: dict | None = None, related: list | None = None) -> dict:
    """A sync with the first sync's Job observed Running and its pod waiting with ``message``."""
    parent = parent or restore_session()
    related = world() if related is None else related
    [job] = observed(the_job(sync(parent, related)), "Running")
    return sync(parent, [*related, waiting_pod(message)], [job])


def first_job() -> dict[str, Any]:
    return the_job(sync(restore_session(), world()))


def run(state: str, result: dict | str | None = None, parent: dict | None = None) -> dict:
    """A sync with the first sync's Job observed in ``state`` and its pod's ``result``."""
    job, *pods = observed(first_job(), state, result)
    return sync(parent or restore_session(), [*world(), *pods], [job])


# ----------------------------------------------------------------------------- first sync


def test_first_sync_asks_for_one_restore_job_of_the_latest_snapshot() -> None:
    response = sync(restore_session(), world())
    job = the_job(response)
    args = container(job)["args"]
    assert args[0] == "restore"
    assert f"--snapshot={NEW_ID}" in args
    assert "--session=frequent-backup" in args
    assert "--zookeeper=sample-zookeeper.demo.svc:2181" in args
    assert "--auth=digest" in args
    assert "--mode=skip" in args
    assert "--result-file=/dev/termination-log" in args
    assert job["metadata"]["name"].startswith(f"restore-{RESTORE}-")
    assert job["metadata"]["annotations"] == {"kubestash.com/snapshot": f"demo/{NEW}"}
    assert job["spec"]["backoffLimit"] == 0
    assert "activeDeadlineSeconds" not in job["spec"]


def test_first_sync_reports_pending_with_the_executor_ensured() -> None:
    status = sync(restore_session(), world())["status"]
    assert status["phase"] == "Pending"
    assert status["targetFound"] is True
    assert status["totalComponents"] == 1
    assert status["components"] == {"dump": {"phase": "Pending"}}
    assert condition(status, "ValidationPassed")["status"] == "True"
    assert condition(status, "RestoreTargetFound")["status"] == "True"
    ensured = condition(status, "RestoreExecutorEnsured")
    assert ensured["status"] == "True"
    assert ensured["message"].endswith(f"of Snapshot demo/{NEW}")
    assert status["dependencies"] == [
        {
            "apiGroup": "storage.kubestash.com",
            "kind": "Snapshot",
            "namespace": "demo",
            "name": NEW,
            "found": True,
        },
        {
            "apiGroup": "addons.kubestash.com",
            "kind": "Addon",
            "name": "zookeeper-addon",
            "found": True,
        },
    ]


def test_repository_spec_comes_from_the_repository_and_its_storage() -> None:
    args = container(first_job())["args"]
    spec = json.loads(next(a for a in args if a.startswith("--repository=")).partition("=")[2])
    assert spec == {
        "name": "s3-repo",
        "path": "/zookeeper",
        "envPrefix": "REPO0_",
        "storage": {
            "provider": "s3",
            # The storage webhook's default strips the trailing slash.
            "s3": {
                "endpoint": "http://127.0.0.1:8333",
                "bucket": "zk",
                "prefix": "demo",
                "secretName": "s3-secret",
            },
        },
    }


def test_credentials_reach_the_job_only_as_secret_key_refs() -> None:
    env = {e["name"]: e for e in container(first_job())["env"]}
    assert env["REPO0_RESTIC_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "encrypt-secret",
        "key": "RESTIC_PASSWORD",
    }
    assert env["REPO0_AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "s3-secret"
    assert env["ZK_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "sample-zookeeper-auth",
        "key": "password",
    }
    literal = [e for e in env.values() if "value" in e]
    assert {e["name"] for e in literal} == {"TMPDIR", "HOME", "RESTIC_CACHE_DIR"}


def test_encryption_secret_defaults_to_the_repositorys() -> None:
    parent = restore_session({"encryptionSecret": None})
    del parent["spec"]["dataSource"]["encryptionSecret"]
    related = [*world(), planted_secret("repo-encrypt-secret")]
    env = {e["name"]: e for e in container(the_job(sync(parent, related)))["env"]}
    assert env["REPO0_RESTIC_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == (
        "repo-encrypt-secret"
    )


def test_restore_timeout_becomes_the_jobs_active_deadline() -> None:
    job = the_job(sync(restore_session(restoreTimeout="1h30m"), world()))
    assert job["spec"]["activeDeadlineSeconds"] == 5400


def test_old_field_name_timeout_is_accepted_as_restore_timeout() -> None:
    job = the_job(sync(restore_session(timeout="10m"), world()))
    assert job["spec"]["activeDeadlineSeconds"] == 600


def test_task_params_override_the_addon_defaults() -> None:
    parent = restore_session(
        addon={
            "name": "zookeeper-addon",
            "tasks": [{"name": "logical-backup-restore", "params": {"mode": "overwrite"}}],
        }
    )
    assert "--mode=overwrite" in container(the_job(sync(parent, world())))["args"]


def test_addon_job_template_shapes_the_restore_pod() -> None:
    template = {
        "spec": {
            "resources": {"requests": {"cpu": "200m", "memory": "1Gi"}},
            "securityContext": {"runAsUser": 0, "runAsGroup": 0},
        }
    }
    parent = restore_session(
        addon={
            "name": "zookeeper-addon",
            "tasks": [{"name": "logical-backup-restore"}],
            "jobTemplate": template,
        }
    )
    pod = the_job(sync(parent, world()))["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 0
    assert pod["containers"][0]["resources"] == {"requests": {"cpu": "200m", "memory": "1Gi"}}


# ----------------------------------------------------------------------------- which snapshot


def test_latest_ties_on_snapshot_time_go_to_the_greater_name() -> None:
    same_time = [
        snapshot(OLD, OLD_ID, "2026-11-25T10:00:00Z"),
        snapshot(NEW, NEW_ID, "2026-11-25T10:00:00Z"),
    ]
    args = container(the_job(sync(restore_session(), world(snapshots=same_time))))["args"]
    assert f"--snapshot={NEW_ID}" in args


def test_latest_passes_over_failed_and_unfinished_snapshots() -> None:
    snapshots = [
        snapshot(OLD, OLD_ID, "2026-11-25T09:00:00Z"),
        snapshot(NEW, NEW_ID, "2026-11-25T10:00:00Z", phase="Failed"),
        snapshot(NEWER, None, "2026-11-25T11:00:00Z", phase="Running"),
    ]
    args = container(the_job(sync(restore_session(), world(snapshots=snapshots))))["args"]
    assert f"--snapshot={OLD_ID}" in args


def test_latest_ignores_snapshots_of_other_repositories() -> None:
    snapshots = [
        snapshot(OLD, OLD_ID, "2026-11-25T09:00:00Z"),
        snapshot("gcs-repo-x-1", NEWER_ID, "2026-11-25T11:00:00Z", repo="gcs-repo"),
    ]
    args = container(the_job(sync(restore_session(), world(snapshots=snapshots))))["args"]
    assert f"--snapshot={OLD_ID}" in args


def test_named_snapshot_is_restored_even_when_a_newer_one_exists() -> None:
    response = sync(restore_session({"snapshot": OLD}), world())
    assert f"--snapshot={OLD_ID}" in container(the_job(response))["args"]
    assert response["status"]["dependencies"][0]["name"] == OLD


def test_named_snapshot_without_repository_finds_its_repository() -> None:
    parent = restore_session({"snapshot": OLD})
    del parent["spec"]["dataSource"]["repository"]
    args = container(the_job(sync(parent, world())))["args"]
    assert f"--snapshot={OLD_ID}" in args
    assert any(a.startswith("--repository=") and '"path":"/zookeeper"' in a for a in args)


def test_pinned_latest_keeps_the_running_job_when_a_newer_snapshot_appears() -> None:
    job, *_ = observed(first_job(), "Running")
    newer = snapshot(NEWER, NEWER_ID, "2026-11-25T11:00:00Z")
    response = sync(restore_session(), [*world(), newer], [job])
    assert [c["metadata"]["name"] for c in response["children"]] == [job["metadata"]["name"]]
    assert f"--snapshot={NEW_ID}" in container(the_job(response))["args"]
    assert response["status"]["dependencies"][0]["name"] == NEW


def test_pinned_choice_in_status_survives_a_job_not_yet_observed() -> None:
    first = sync(restore_session(), world())
    parent = restore_session(status={**first["status"], "observedGeneration": 1})
    newer = snapshot(NEWER, NEWER_ID, "2026-11-25T11:00:00Z")
    again = sync(parent, [*world(), newer])
    assert the_job(again)["metadata"]["name"] == the_job(first)["metadata"]["name"]


def test_same_request_gives_the_same_job_name() -> None:
    assert first_job()["metadata"]["name"] == first_job()["metadata"]["name"]


# ----------------------------------------------------------------------------- the Job runs


def test_running_job_makes_the_restore_running() -> None:
    status = run("Running")["status"]
    assert status["phase"] == "Running"
    assert status["components"]["dump"] == {"phase": "Running"}
    assert "MetricsPushed" not in {c["type"] for c in status["conditions"]}


def test_backups_of_the_same_target_are_paused_while_restoring() -> None:
    status = run("Running")["status"]
    assert status["pausedBackups"] == [
        {
            "apiGroup": "core.kubestash.com",
            "kind": "BackupConfiguration",
            "namespace": "demo",
            "name": "sample-backup",
        }
    ]


def test_succeeded_result_fills_the_status() -> None:
    status = run("Complete", RESTORE_RESULT)["status"]
    assert status["phase"] == "Succeeded"
    assert status["duration"] == "5s"
    assert status["components"]["dump"] == {
        "phase": "Succeeded",
        "duration": "3s",
        "progress": {"totalFiles": 1001, "filesDone": 1001, "restoreDone": True},
    }
    assert condition(status, "MetricsPushed")["status"] == "True"
    assert condition(status, "RestoreIncomplete")["status"] == "False"
    assert "pausedBackups" not in status


def test_status_validates_against_the_restoresession_schema() -> None:
    status = run("Complete", RESTORE_RESULT)["status"]
    assert validate(restore_session(status={**status, "observedGeneration": 1})) == []


def test_executor_error_reaches_the_status_on_failure() -> None:
    result = {**RESTORE_RESULT, "phase": "Failed", "error": "znode /app exists (mode fail)"}
    status = run("Failed", result)["status"]
    assert status["phase"] == "Failed"
    assert status["components"]["dump"]["error"] == "znode /app exists (mode fail)"
    assert condition(status, "RestoreIncomplete")["status"] == "False"


def test_job_failed_without_a_result_is_an_incomplete_restore() -> None:
    status = run("Failed")["status"]
    assert status["phase"] == "Failed"
    incomplete = condition(status, "RestoreIncomplete")
    assert incomplete["status"] == "True"
    assert incomplete["reason"] == "RestoreExecutorTerminatedBeforeCompletion"
    assert "BackoffLimitExceeded" in status["components"]["dump"]["error"]


def test_restore_deadline_is_the_jobs_start_plus_the_timeout() -> None:
    job, *_ = observed(the_job(sync(restore_session(restoreTimeout="30m"), world())), "Running")
    status = sync(restore_session(restoreTimeout="30m"), world(), [job])["status"]
    assert status["restoreDeadline"] == "2026-11-25T10:30:00Z"


def test_finished_result_is_carried_forward_after_the_job_is_gone() -> None:
    status = run("Complete", RESTORE_RESULT)["status"]
    parent = restore_session(status={**status, "observedGeneration": 1})
    newer = snapshot(NEWER, NEWER_ID, "2026-11-25T11:00:00Z")
    response = sync(parent, [*world(), newer])
    assert response == {"status": status, "children": []}


def test_finished_restore_keeps_its_job() -> None:
    done = run("Complete", RESTORE_RESULT)
    job, *pods = observed(first_job(), "Complete", RESTORE_RESULT)
    parent = restore_session(status={**done["status"], "observedGeneration": 1})
    response = sync(parent, [*world(), *pods], [job])
    assert response["children"] == [first_job()]


# ----------------------------------------------------------------------------- cross-namespace


def test_cross_namespace_restore_allowed_by_the_storage_usage_policy() -> None:
    response = sync(restore_session({"namespace": "prod"}), world("prod", usage_from="All"))
    job = the_job(response)
    assert job["metadata"]["namespace"] == NAMESPACE
    assert job["metadata"]["annotations"] == {"kubestash.com/snapshot": f"prod/{NEW}"}
    assert response["status"]["dependencies"][0]["namespace"] == "prod"


def test_cross_namespace_restore_allowed_by_a_namespace_selector() -> None:
    selector = {"matchLabels": {"team": "zk"}}
    related = [
        o if o["kind"] != "BackupStorage" else backup_storage("prod", "Selector", selector)
        for o in world("prod")
    ]
    response = sync(restore_session({"namespace": "prod"}), related)
    assert the_job(response)["metadata"]["namespace"] == NAMESPACE


def test_cross_namespace_restore_denied_by_the_storage_usage_policy_is_invalid() -> None:
    response = sync(restore_session({"namespace": "prod"}), world("prod", usage_from="Same"))
    assert response["children"] == []
    status = response["status"]
    assert status["phase"] == "Invalid"
    message = condition(status, "ValidationPassed")["message"]
    assert message.startswith("spec.dataSource.namespace: BackupStorage prod/s3-storage")
    assert "'demo'" in message and "Same" in message


def test_cross_namespace_restore_needs_the_spec_named_secret_in_the_restore_namespace() -> None:
    related = [o for o in world("prod") if o["kind"] != "Secret"] + secrets("prod")
    response = sync(restore_session({"namespace": "prod"}), related)
    assert response["children"] == []
    status = response["status"]
    assert status["phase"] == "Pending"
    ensured = condition(status, "RestoreExecutorEnsured")
    assert ensured["status"] == "False" and ensured["reason"] == "SecretNotFound"
    assert ensured["message"] == (
        "Secret demo/encrypt-secret not found (named by spec.dataSource.encryptionSecret); "
        "the restore Job runs in namespace demo and can read Secrets only there"
    )


def test_cross_namespace_restore_whose_storage_secret_is_missing_here_waits_naming_it() -> None:
    parent = restore_session({"namespace": "prod"})
    response = waiting_for('secret "s3-secret" not found', parent, world("prod"))
    status = response["status"]
    assert status["phase"] == "Pending"
    assert status["components"] == {"dump": {"phase": "Pending"}}
    ensured = condition(status, "RestoreExecutorEnsured")
    assert ensured["status"] == "False" and ensured["reason"] == "SecretNotFound"
    assert ensured["message"].startswith(
        "Secret demo/s3-secret not found (named by BackupStorage prod/s3-storage: "
        "spec.storage.s3.secretName); the restore Job runs in namespace demo and can read "
        "Secrets only there; the pod of restore Job restore-sample-zookeeper-restore-"
    )
    assert ensured["message"].endswith(" waits for it (CreateContainerConfigError)")


# ----------------------------------------------------------------------------- invalid input


def invalid_message(parent: dict, related: list[dict] | None = None) -> str:
    response = sync(parent, world() if related is None else related)
    assert response["status"]["phase"] == "Invalid"
    assert response["children"] == []
    return condition(response["status"], "ValidationPassed")["message"]


def test_missing_named_snapshot_is_invalid() -> None:
    message = invalid_message(restore_session({"snapshot": "no-such-snapshot"}))
    assert message == "spec.dataSource.snapshot: Snapshot demo/no-such-snapshot not found"


def test_unknown_repository_is_invalid() -> None:
    message = invalid_message(restore_session({"repository": "nope"}))
    assert message == "spec.dataSource.repository: Repository demo/nope not found"


def test_latest_without_a_succeeded_snapshot_is_invalid() -> None:
    message = invalid_message(restore_session(), world(snapshots=[]))
    assert message.startswith("spec.dataSource.snapshot: Repository demo/s3-repo has no")


def test_bad_restore_timeout_is_invalid() -> None:
    message = invalid_message(restore_session(restoreTimeout="soon"))
    assert message.startswith('spec.restoreTimeout: "soon" is not a valid duration')


def test_latest_without_repository_is_invalid() -> None:
    parent = restore_session()
    del parent["spec"]["dataSource"]["repository"]
    message = invalid_message(parent)
    assert message == 'spec.dataSource.repository: required when snapshot is "latest"'


def test_failed_named_snapshot_is_invalid() -> None:
    failed = [snapshot(OLD, OLD_ID, "2026-11-25T09:00:00Z", phase="Failed")]
    message = invalid_message(restore_session({"snapshot": OLD}), world(snapshots=failed))
    assert (
        message == f"spec.dataSource.snapshot: Snapshot demo/{OLD} is Failed and cannot be restored"
    )


def test_snapshot_of_another_repository_is_invalid() -> None:
    other = [snapshot("gcs-repo-x-1", NEWER_ID, "2026-11-25T11:00:00Z", repo="gcs-repo")]
    message = invalid_message(restore_session({"snapshot": "gcs-repo-x-1"}), world(snapshots=other))
    assert "belongs to Repository 'gcs-repo', not 's3-repo'" in message


def test_unknown_restore_task_is_invalid_naming_the_addon_field() -> None:
    parent = restore_session(addon={"name": "zookeeper-addon", "tasks": [{"name": "nope"}]})
    message = invalid_message(parent)
    assert message.startswith(f"RestoreSession demo/{RESTORE}: spec.addon.tasks:")


def test_unknown_component_is_invalid() -> None:
    message = invalid_message(restore_session({"components": ["wal"]}))
    assert message == "spec.dataSource.components: a ZooKeeper snapshot has one component, 'dump'"


def test_point_in_time_restore_is_invalid_as_unsupported() -> None:
    parent = restore_session({"pitr": {"targetTime": "2026-11-25T10:30:00Z"}})
    assert invalid_message(parent).startswith("spec.dataSource.pitr: point-in-time restore")


def test_restore_hooks_are_invalid_as_unsupported() -> None:
    parent = restore_session(
        hooks={"preRestore": [{"name": "stop", "hookTemplate": {"name": "x"}}]}
    )
    assert invalid_message(parent) == "spec.hooks: pre- and post-restore hooks are not supported"


def test_missing_target_is_invalid() -> None:
    parent = restore_session()
    del parent["spec"]["target"]
    assert invalid_message(parent).startswith("spec.target.name: required")


def test_job_template_of_the_wrong_shape_is_invalid() -> None:
    parent = restore_session(
        addon={"name": "zookeeper-addon", "jobTemplate": {"spec": {"resources": "1Gi"}}}
    )
    assert invalid_message(parent) == "spec.addon.jobTemplate.spec.resources: expected a mapping"


def test_invalid_spec_keeps_the_observed_job() -> None:
    job, *_ = observed(first_job(), "Running")
    response = sync(restore_session(restoreTimeout="soon"), world(), [job])
    assert response["status"]["phase"] == "Invalid"
    assert response["children"] == [first_job()]


# ----------------------------------------------------------------------------- waiting


def test_missing_target_appbinding_waits_pending() -> None:
    response = sync(restore_session(), world(without=("sample-zookeeper",)))
    assert response["children"] == []
    status = response["status"]
    assert status["phase"] == "Pending"
    assert status["targetFound"] is False
    assert condition(status, "RestoreTargetFound")["status"] == "False"
    assert response["resyncAfterSeconds"] == 30


def test_missing_encryption_secret_waits_and_names_it() -> None:
    response = sync(restore_session(), world(without=("encrypt-secret",)))
    assert response["children"] == []
    ensured = condition(response["status"], "RestoreExecutorEnsured")
    assert ensured["message"] == (
        "Secret demo/encrypt-secret not found (named by spec.dataSource.encryptionSecret); "
        "the restore Job runs in namespace demo and can read Secrets only there"
    )


def test_secrets_named_outside_the_spec_are_not_checked_before_the_job() -> None:
    # s3-secret and sample-zookeeper-auth are not related: the Job is asked for regardless.
    response = sync(restore_session(), world())
    assert the_job(response)["metadata"]["namespace"] == "demo"
    assert condition(response["status"], "RestoreExecutorEnsured")["status"] == "True"


def test_missing_zookeeper_auth_secret_names_the_appbinding_field() -> None:
    response = waiting_for('secret "sample-zookeeper-auth" not found')
    assert response["status"]["phase"] == "Pending"
    ensured = condition(response["status"], "RestoreExecutorEnsured")
    assert ensured["reason"] == "SecretNotFound"
    assert (
        "Secret demo/sample-zookeeper-auth not found "
        "(named by AppBinding demo/sample-zookeeper: spec.secret)" in ensured["message"]
    )
    assert response["resyncAfterSeconds"] == 30


def test_missing_repository_encryption_secret_names_the_repository_field() -> None:
    parent = restore_session()
    del parent["spec"]["dataSource"]["encryptionSecret"]
    response = waiting_for('secret "repo-encrypt-secret" not found', parent)
    message = condition(response["status"], "RestoreExecutorEnsured")["message"]
    assert "(named by Repository demo/s3-repo: spec.encryptionSecret)" in message


def test_pod_missing_a_key_of_a_secret_shows_the_kubelets_message() -> None:
    response = waiting_for("couldn't find key password in Secret demo/sample-zookeeper-auth")
    assert response["status"]["phase"] == "Pending"
    ensured = condition(response["status"], "RestoreExecutorEnsured")
    assert ensured["status"] == "False"
    assert ensured["reason"] == "CreateContainerConfigError"
    assert ensured["message"].endswith(
        "cannot start: CreateContainerConfigError: "
        "couldn't find key password in Secret demo/sample-zookeeper-auth"
    )


def test_job_keeps_running_once_the_missing_secret_appears_and_its_pod_starts() -> None:
    waiting = waiting_for('secret "s3-secret" not found')
    status = run("Running", parent=restore_session(status=waiting["status"]))["status"]
    assert status["phase"] == "Running"
    ensured = condition(status, "RestoreExecutorEnsured")
    assert ensured["status"] == "True" and ensured["reason"] == "SuccessfullyEnsuredRestoreExecutor"


def test_unfinished_named_snapshot_waits() -> None:
    running = [snapshot(NEWER, None, "2026-11-25T11:00:00Z", phase="Running")]
    response = sync(restore_session({"snapshot": NEWER}), world(snapshots=running))
    assert response["children"] == []
    assert response["status"]["phase"] == "Pending"
    ensured = condition(response["status"], "RestoreExecutorEnsured")
    assert ensured["reason"] == "SnapshotNotReady"


def test_missing_addon_waits_with_the_dependency_not_found() -> None:
    related = [o for o in world() if o["kind"] != "Addon"]
    status = sync(restore_session(), related)["status"]
    assert status["phase"] == "Pending"
    assert status["dependencies"][1] == {
        "apiGroup": "addons.kubestash.com",
        "kind": "Addon",
        "name": "zookeeper-addon",
        "found": False,
    }


# ----------------------------------------------------------------------------- customize


def customize_rules(parent: dict) -> dict[str, dict]:
    rules = restoresession.customize(parse_request({"controller": CTRL, "parent": parent}))
    return {rule["resource"]: rule for rule in rules["relatedResources"]}


def test_customize_relates_the_repositorys_snapshots_for_latest() -> None:
    rules = customize_rules(restore_session({"namespace": "prod"}))
    assert rules["snapshots"] == {
        "apiVersion": "storage.kubestash.com/v1alpha1",
        "resource": "snapshots",
        "namespace": "prod",
        "labelSelector": {"matchLabels": {"kubestash.com/repo-name": "s3-repo"}},
    }
    assert rules["repositories"]["names"] == ["s3-repo"]
    assert rules["repositories"]["namespace"] == "prod"


def test_customize_relates_a_named_snapshot_by_name() -> None:
    rules = customize_rules(restore_session({"snapshot": OLD}))
    assert rules["snapshots"]["names"] == [OLD]


def test_customize_relates_target_backups_namespace_and_the_spec_named_secret() -> None:
    rules = customize_rules(restore_session({"namespace": "prod"}))
    assert rules["appbindings"]["names"] == ["sample-zookeeper"]
    assert rules["backupconfigurations"]["namespace"] == "demo"
    assert rules["namespaces"]["names"] == ["demo"]
    assert rules["secrets"] == {
        "apiVersion": "v1",
        "resource": "secrets",
        "namespace": "demo",
        "names": ["encrypt-secret"],
    }


def test_customize_relates_no_secret_when_the_spec_names_none() -> None:
    parent = restore_session()
    del parent["spec"]["dataSource"]["encryptionSecret"]
    assert "secrets" not in customize_rules(parent)


# ----------------------------------------------------------------------------- phase rule


def test_phase_rule_follows_kubestash() -> None:
    def cond(type_: str, status: str) -> dict:
        return {"type": type_, "status": status}

    phase = restoresession.restore_phase
    succeeded = {"dump": {"phase": "Succeeded"}}
    assert phase([cond("MetricsPushed", "False")], succeeded) == "Failed"
    assert phase([cond("ValidationPassed", "False")], {}) == "Invalid"
    assert phase([], succeeded) == "Running"
    assert phase([cond("MetricsPushed", "True")], succeeded) == "Succeeded"
    assert (
        phase([cond("MetricsPushed", "True"), cond("RestoreIncomplete", "True")], succeeded)
        == "Failed"
    )
    assert phase([], {"dump": {"phase": "Pending"}}) == "Pending"
