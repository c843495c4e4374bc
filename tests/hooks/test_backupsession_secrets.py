"""BackupSession hook: a backup Job's pod the kubelet cannot configure (a Secret named by its
env is missing) keeps the session Running and says which Secret, and which field names it."""

from typing import Any

from tests.hooks import world
from tests.hooks.checks import child, condition, kinds
from tests.hooks.test_backupsession import backup_session, sync, world_objects

WAITING_FOR = " waits for it (CreateContainerConfigError)"


def kubelet_pod(job: dict[str, Any], state: dict[str, Any], phase: str) -> dict[str, Any]:
    """The Job's pod as the kubelet reports it, its executor container in ``state``."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{job['metadata']['name']}-7xk2p",
            "namespace": "demo",
            "creationTimestamp": "2024-09-17T11:36:11Z",
            "labels": job["spec"]["template"]["metadata"]["labels"],
            "ownerReferences": [{"kind": "Job", "uid": job["metadata"]["uid"]}],
        },
        "status": {
            "phase": phase,
            "containerStatuses": [
                {
                    "name": "executor",
                    "ready": False,
                    "restartCount": 0,
                    "image": "ghcr.io/zkstash/executor:latest",
                    "imageID": "",
                    "started": phase == "Running",
                    "state": state,
                }
            ],
        },
    }


def config_error(message: str) -> dict[str, Any]:
    return {"waiting": {"reason": "CreateContainerConfigError", "message": message}}


def running_job() -> dict[str, Any]:
    """The first sync's Job, observed started with one active pod."""
    job = child(sync(backup_session()), "Job")
    return world.observed(job, active=1, startTime="2024-09-17T11:36:10Z")


def waiting_with(message: str, related: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A sync that observes the Job running and its pod waiting with the kubelet's ``message``."""
    job = running_job()
    pod = kubelet_pod(job, config_error(message), "Pending")
    return sync(backup_session(), [job], [*(related or world_objects()), pod])


def ensured(response: dict[str, Any]) -> dict[str, Any]:
    return condition(response["status"]["conditions"], "BackupExecutorEnsured")


def test_missing_storage_secret_keeps_the_session_running_and_names_the_storage_field():
    response = waiting_with('secret "s3-secret" not found')
    job_name = running_job()["metadata"]["name"]
    assert response["status"]["phase"] == "Running"
    assert ensured(response)["status"] == "False"
    assert ensured(response)["reason"] == "SecretNotFound"
    assert ensured(response)["message"] == (
        "Secret demo/s3-secret not found (named by BackupStorage demo/s3-storage: "
        "spec.storage.s3.secretName); the backup Job runs in namespace demo and can read "
        f"Secrets only there; the pod of backup Job {job_name}{WAITING_FOR}"
    )


def test_a_waiting_pod_keeps_the_job_and_the_resync():
    response = waiting_with('secret "s3-secret" not found')
    assert kinds(response) == [("Job", running_job()["metadata"]["name"])]
    assert response["resyncAfterSeconds"] == 15


def test_encryption_secret_of_two_repositories_names_both_repository_fields():
    message = ensured(waiting_with('secret "encrypt-secret" not found'))["message"]
    assert message.startswith(
        "Secret demo/encrypt-secret not found (named by Repository demo/repo-a: "
        "spec.encryptionSecret, Repository demo/repo-b: spec.encryptionSecret); "
    )


def test_missing_zookeeper_auth_secret_names_the_appbinding_field():
    message = ensured(waiting_with('secret "sample-zookeeper-auth" not found'))["message"]
    assert message.startswith(
        "Secret demo/sample-zookeeper-auth not found "
        "(named by AppBinding demo/sample-zookeeper: spec.secret); "
    )


def test_a_secret_no_observed_object_names_is_attributed_to_the_jobs_env():
    job_name = running_job()["metadata"]["name"]
    message = ensured(waiting_with('secret "renamed-secret" not found'))["message"]
    assert message.startswith(
        f"Secret demo/renamed-secret not found (named by the env of backup Job {job_name}); "
    )


def test_other_container_config_errors_are_shown_in_the_kubelets_words():
    response = waiting_with("couldn't find key password in Secret demo/sample-zookeeper-auth")
    job_name = running_job()["metadata"]["name"]
    assert response["status"]["phase"] == "Running"
    assert ensured(response)["status"] == "False"
    assert ensured(response)["reason"] == "CreateContainerConfigError"
    assert ensured(response)["message"] == (
        f"the pod of backup Job {job_name} cannot start: CreateContainerConfigError: "
        "couldn't find key password in Secret demo/sample-zookeeper-auth"
    )


def test_once_the_secret_exists_and_the_pod_runs_the_executor_is_ensured_again():
    job = running_job()
    started = {"running": {"startedAt": "2024-09-17T11:37:00Z"}}
    pod = kubelet_pod(job, started, "Running")
    response = sync(backup_session(), [job], [*world_objects(), pod])
    assert response["status"]["phase"] == "Running"
    assert ensured(response)["status"] == "True"
    assert ensured(response)["reason"] == "SuccessfullyEnsuredBackupExecutor"


def test_a_job_that_failed_while_its_pod_waited_fails_the_session():
    job = child(sync(backup_session()), "Job")
    failed = world.observed(
        job,
        startTime="2024-09-17T11:36:10Z",
        conditions=[
            {
                "type": "Failed",
                "status": "True",
                "reason": "DeadlineExceeded",
                "message": "Job was active longer than specified deadline",
                "lastTransitionTime": "2024-09-17T12:36:10Z",
            }
        ],
    )
    pod = kubelet_pod(failed, config_error('secret "s3-secret" not found'), "Pending")
    response = sync(backup_session(), [failed], [*world_objects(), pod])
    assert response["status"]["phase"] == "Failed"
    assert ensured(response)["status"] == "True"
    completed = condition(response["status"]["conditions"], "BackupCompleted")
    assert "DeadlineExceeded" in completed["message"]
