"""Executor Jobs: catalog-driven args, secrets only by reference, restricted pods, results."""

import json

import kubernetes_validate
import pytest

from hooks import jobs
from hooks.protocol import ObjectIndex
from tests.hooks import world


def related_catalog() -> ObjectIndex:
    return ObjectIndex.from_wire(world.group(world.catalog()), world.NS)


def backup_job(**overrides) -> dict:
    task, function = jobs.resolve_task_function(
        related_catalog(), "zookeeper-addon", "backupTasks", "logical-backup", "spec.addon"
    )
    connection = jobs.connection_from_appbinding(world.appbinding())
    storage = world.backup_storage()["spec"]["storage"]
    repo = jobs.repository_target("s3-repo", storage, "/zookeeper", "REPO0_", "encrypt-secret")
    request = jobs.JobRequest(
        prefix="backup",
        owner_name="bs-1",
        namespace=world.NS,
        component="kubestash-backup",
        labels={"kubestash.com/invoker-name": "bs-1"},
        function=function,
        values={
            **jobs.task_parameter_defaults(task),
            "zookeeper": connection.hosts,
            "auth": connection.auth,
            "session": "frequent-backup",
            "backupSession": "bs-1",
        },
        extra_args=[f"--repository={repo.spec}"],
        env=[*connection.env, *repo.env],
        **overrides,
    )
    return jobs.executor_job(request)


def test_backup_job_validates_against_kubernetes_schema():
    kubernetes_validate.validate(backup_job(), "1.29", strict=True)


def test_backup_job_args_come_from_the_function_with_placeholders_resolved():
    args = backup_job()["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:6] == [
        "backup",
        "--zookeeper=sample-zookeeper.demo.svc:2181",
        "--auth=digest",
        "--session=frequent-backup",
        "--root=/",
        "--tag=bs-1",
    ]
    assert args[-1] == "--result-file=/dev/termination-log"
    spec = json.loads(args[-2].removeprefix("--repository="))
    assert spec["envPrefix"] == "REPO0_" and spec["path"] == "/zookeeper"


def test_credentials_reach_the_job_only_as_secret_key_refs():
    env = {e["name"]: e for e in backup_job()["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["REPO0_AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"] == {
        "name": "s3-secret",
        "key": "AWS_ACCESS_KEY_ID",
    }
    assert env["REPO0_RESTIC_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "encrypt-secret"
    assert env["ZK_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "sample-zookeeper-auth",
        "key": "password",
    }


def test_pod_is_restricted_by_default_with_scratch_space():
    pod = backup_job()["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert {"name": "kubestash-tmp-volume", "mountPath": "/kubestash-tmp"} in container[
        "volumeMounts"
    ]
    assert {"name": "TMPDIR", "value": "/kubestash-tmp"} in container["env"]


def test_job_template_is_honoured_and_explicit_root_wins():
    template = {
        "spec": {
            "resources": {"requests": {"cpu": "200m", "memory": "1Gi"}},
            "securityContext": {"runAsUser": 0, "runAsGroup": 0},
            "nodeSelector": {"disk": "ssd"},
            "tolerations": [{"key": "backup", "operator": "Exists"}],
        }
    }
    job = backup_job(pod_template=template)
    kubernetes_validate.validate(job, "1.29", strict=True)
    pod = job["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 0
    assert "runAsNonRoot" not in pod["securityContext"]
    assert "runAsNonRoot" not in pod["containers"][0]["securityContext"]
    assert pod["containers"][0]["resources"]["requests"]["memory"] == "1Gi"
    assert pod["nodeSelector"] == {"disk": "ssd"}


def test_changed_inputs_give_a_new_job_name():
    assert backup_job()["metadata"]["name"] == backup_job()["metadata"]["name"]
    assert (
        backup_job()["metadata"]["name"]
        != backup_job(active_deadline_seconds=60)["metadata"]["name"]
    )


def test_empty_optional_options_are_dropped_and_missing_required_ones_named():
    assert jobs.render_args(["x", "--host=${host:=}", "--a=${a:=1}"], {}) == ["x", "--a=1"]
    with pytest.raises(jobs.JobInputError, match=r"\$\{zookeeper\}"):
        jobs.render_args(["--zookeeper=${zookeeper}"], {})


def test_missing_addon_task_is_a_named_input_error():
    with pytest.raises(jobs.JobInputError) as problem:
        jobs.resolve_task_function(
            related_catalog(), "zookeeper-addon", "backupTasks", "nope", "spec.sessions[0].addon"
        )
    assert problem.value.path == "spec.sessions[0].addon.tasks"


def test_appbinding_url_and_missing_client_config():
    binding = world.appbinding()
    binding["spec"]["clientConfig"] = {"url": "zk://zk-0:2181,zk-1:2181/chroot"}
    assert jobs.connection_from_appbinding(binding).hosts == "zk-0:2181,zk-1:2181/chroot"
    binding["spec"]["clientConfig"] = {}
    with pytest.raises(jobs.JobInputError, match=r"spec\.clientConfig"):
        jobs.connection_from_appbinding(binding)


def test_local_storage_mounts_its_volume():
    storage = {
        "provider": "local",
        "local": {"mountPath": "/backup", "persistentVolumeClaim": {"claimName": "backup-pvc"}},
    }
    repo = jobs.repository_target("r", storage, "/zk", "REPO0_", None)
    assert repo.volumes == (
        {"name": "storage-repo0", "persistentVolumeClaim": {"claimName": "backup-pvc"}},
    )
    assert repo.volume_mounts == ({"name": "storage-repo0", "mountPath": "/backup"},)


def pod(message: str | None, job_uid: str = "job-uid") -> dict:
    terminated = {"exitCode": 0}
    if message is not None:
        terminated["message"] = message
    return {
        "metadata": {"name": "p", "ownerReferences": [{"uid": job_uid}]},
        "status": {
            "containerStatuses": [{"name": "executor", "state": {"terminated": terminated}}]
        },
    }


JOB_DONE = {
    "metadata": {"name": "j", "uid": "job-uid"},
    "status": {
        "conditions": [{"type": "Complete", "status": "True"}],
        "startTime": "2024-01-01T00:00:00Z",
        "completionTime": "2024-01-01T00:01:05Z",
    },
}


def test_result_is_read_from_the_termination_message():
    result = {"kind": "BackupResult", "version": 1, "phase": "Succeeded", "error": ""}
    outcome = jobs.job_outcome(JOB_DONE, [pod(json.dumps(result))])
    assert outcome.state == "Succeeded" and outcome.result == result


def test_garbage_termination_message_is_a_clear_failed_result():
    outcome = jobs.job_outcome(JOB_DONE, [pod("panic: \x00 not json")])
    assert outcome.state == "Failed"
    assert "not valid result JSON" in outcome.result["error"]


def test_failed_job_without_result_reports_the_job_condition():
    job = {
        "metadata": {"name": "j", "uid": "u"},
        "status": {
            "conditions": [
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": "DeadlineExceeded",
                    "message": "Job was active longer than specified deadline",
                }
            ]
        },
    }
    outcome = jobs.job_outcome(job, [])
    assert outcome.state == "Failed" and "DeadlineExceeded" in outcome.message


def test_running_and_pending_jobs():
    assert jobs.job_outcome({"metadata": {}, "status": {"active": 1}}, []).state == "Running"
    assert jobs.job_outcome({"metadata": {}}, []).state == "Pending"


def test_job_duration_is_go_formatted():
    assert jobs.job_duration(JOB_DONE) == "1m5s"
    assert jobs.go_duration(3600) == "1h0m0s"
