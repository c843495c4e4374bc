"""Jobs run as real local processes; CronJobs fire on the controllable clock or on demand."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from croniter import croniter

from tests.standin.clock import rfc3339
from tests.standin.kubectl import Kubectl
from tests.standin.standin import Standin


def job(name: str, script: str, **spec: Any) -> dict[str, Any]:
    """A Job running `sh -c script`, with an emptyDir at /scratch and a termination message."""
    container = spec.pop("container", {})
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "hello", "labels": {"app": "t"}},
        "spec": {
            "backoffLimit": spec.pop("backoffLimit", 0),
            "template": {
                "metadata": {"labels": {"app": "t"}},
                "spec": {
                    "restartPolicy": "Never",
                    "volumes": [{"name": "scratch", "emptyDir": {}}],
                    "containers": [
                        {
                            "name": "main",
                            "image": "example/image",
                            "command": ["sh", "-c", script],
                            "terminationMessagePath": "/dev/termination-log",
                            "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
                            **container,
                        }
                    ],
                },
            },
            **spec,
        },
    }


def pod_of(kubectl: Kubectl, job_name: str) -> dict[str, Any]:
    pods = [
        p
        for p in kubectl.objects("Pod", "hello")
        if p["metadata"]["labels"]["job-name"] == job_name
    ]
    return pods[-1]


def wait_job(standin: Standin, kubectl: Kubectl, name: str, condition: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        obj = kubectl.object("Job", "hello", name)
        conditions = (obj.get("status") or {}).get("conditions") or []
        return obj if any(c["type"] == condition for c in conditions) else None

    return standin.run_until(done, 20, f"Job {name} to be {condition}")


def test_successful_job_completes_with_its_termination_message(
    standin: Standin, kubectl: Kubectl
) -> None:
    kubectl.apply(job("ok", 'echo \'{"phase": "Succeeded"}\' > /dev/termination-log'))
    finished = wait_job(standin, kubectl, "ok", "Complete")
    assert finished["status"]["succeeded"] == 1 and finished["status"]["completionTime"]
    terminated = pod_of(kubectl, "ok")["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 0
    assert terminated["message"].strip() == '{"phase": "Succeeded"}'


def test_pod_is_owned_by_its_job_and_carries_the_template_labels(
    standin: Standin, kubectl: Kubectl
) -> None:
    kubectl.apply(job("labels", "true"))
    wait_job(standin, kubectl, "labels", "Complete")
    pod = pod_of(kubectl, "labels")
    owner = kubectl.object("Job", "hello", "labels")
    assert pod["metadata"]["ownerReferences"][0]["uid"] == owner["metadata"]["uid"]
    assert pod["metadata"]["labels"]["app"] == "t"


def test_empty_dir_mount_path_is_mapped_to_a_local_directory(
    standin: Standin, kubectl: Kubectl
) -> None:
    script = 'echo data > /scratch/f && cat /scratch/f > /dev/termination-log && echo "$TMPDIR"'
    container = {"env": [{"name": "TMPDIR", "value": "/scratch/tmp"}]}
    kubectl.apply(job("scratch", script, container=container))
    wait_job(standin, kubectl, "scratch", "Complete")
    pod = pod_of(kubectl, "scratch")
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["message"] == "data\n"
    log = standin.jobs.log_of("hello", pod["metadata"]["name"])
    assert log.strip().endswith("/volumes/scratch/tmp")


def test_secret_key_ref_reaches_the_process_as_env(standin: Standin, kubectl: Kubectl) -> None:
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds", "namespace": "hello"},
            "stringData": {"RESTIC_PASSWORD": "s3cret"},
        }
    )
    ref = {"secretKeyRef": {"name": "creds", "key": "RESTIC_PASSWORD"}}
    container = {"env": [{"name": "REPO0_RESTIC_PASSWORD", "valueFrom": ref}]}
    kubectl.apply(
        job("env", 'printf %s "$REPO0_RESTIC_PASSWORD" > /dev/termination-log', container=container)
    )
    wait_job(standin, kubectl, "env", "Complete")
    terminated = pod_of(kubectl, "env")["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["message"] == "s3cret"


def test_missing_secret_leaves_the_pod_in_create_container_config_error(
    standin: Standin, kubectl: Kubectl
) -> None:
    ref = {"secretKeyRef": {"name": "absent", "key": "RESTIC_PASSWORD"}}
    kubectl.apply(job("nosecret", "true", container={"env": [{"name": "P", "valueFrom": ref}]}))

    def waiting() -> dict[str, Any] | None:
        pods = kubectl.objects("Pod", "hello")
        statuses = pods[0].get("status", {}).get("containerStatuses") if pods else None
        return statuses[0]["state"].get("waiting") if statuses else None

    state = standin.run_until(waiting, 10, "the pod to wait")
    assert state == {"reason": "CreateContainerConfigError", "message": 'secret "absent" not found'}
    assert pod_of(kubectl, "nosecret")["status"]["phase"] == "Pending"


def test_missing_secret_volume_leaves_the_pod_container_creating_without_a_message(
    standin: Standin, kubectl: Kubectl
) -> None:
    manifest = job("novolume", "true", container={})
    pod_spec = manifest["spec"]["template"]["spec"]
    pod_spec["volumes"].append({"name": "tls", "secret": {"secretName": "absent-tls"}})
    pod_spec["containers"][0]["volumeMounts"].append({"name": "tls", "mountPath": "/tls"})
    kubectl.apply(manifest)

    def waiting() -> dict[str, Any] | None:
        pods = kubectl.objects("Pod", "hello")
        statuses = pods[0].get("status", {}).get("containerStatuses") if pods else None
        return statuses[0]["state"].get("waiting") if statuses else None

    assert standin.run_until(waiting, 10, "the pod to wait") == {"reason": "ContainerCreating"}
    assert pod_of(kubectl, "novolume")["status"]["phase"] == "Pending"


def test_pod_waiting_for_a_secret_starts_once_the_secret_exists(
    standin: Standin, kubectl: Kubectl
) -> None:
    ref = {"secretKeyRef": {"name": "late", "key": "RESTIC_PASSWORD"}}
    script = 'printf %s "$P" > /dev/termination-log'
    kubectl.apply(job("late", script, container={"env": [{"name": "P", "valueFrom": ref}]}))

    def started_or_waiting() -> list[dict[str, Any]]:
        pods = kubectl.objects("Pod", "hello")
        return [p for p in pods if (p.get("status") or {}).get("containerStatuses")]

    standin.run_until(started_or_waiting, 10, "the pod to wait for its Secret")
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "late", "namespace": "hello"},
            "stringData": {"RESTIC_PASSWORD": "arrived"},
        }
    )
    wait_job(standin, kubectl, "late", "Complete")
    terminated = pod_of(kubectl, "late")["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["message"] == "arrived"


def test_failing_job_is_retried_up_to_backoff_limit_then_failed(
    standin: Standin, kubectl: Kubectl
) -> None:
    kubectl.apply(job("fails", "exit 3", backoffLimit=1))
    failed = wait_job(standin, kubectl, "fails", "Failed")
    assert failed["status"]["failed"] == 2
    reasons = {c["type"]: c["reason"] for c in failed["status"]["conditions"]}
    assert reasons["Failed"] == "BackoffLimitExceeded"


def test_active_deadline_fails_a_job_that_runs_too_long(standin: Standin, kubectl: Kubectl) -> None:
    kubectl.apply(job("slow", "sleep 30", activeDeadlineSeconds=5))
    standin.run_until(lambda: standin.jobs.active() == 1, 10, "the process to start")
    standin.advance(6)
    failed = wait_job(standin, kubectl, "slow", "Failed")
    assert {c["type"]: c["reason"] for c in failed["status"]["conditions"]}[
        "Failed"
    ] == "DeadlineExceeded"
    assert standin.jobs.active() == 0


def cronjob(suspend: bool = False) -> dict[str, Any]:
    template = job("unused", "true")["spec"]
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "every-five", "namespace": "hello"},
        "spec": {"schedule": "*/5 * * * *", "suspend": suspend, "jobTemplate": {"spec": template}},
    }


def test_cronjob_fires_when_the_clock_passes_its_schedule(
    standin: Standin, kubectl: Kubectl
) -> None:
    kubectl.apply(cronjob())
    standin.settle()
    assert kubectl.objects("Job", "hello") == []
    standin.advance(301)
    jobs = kubectl.objects("Job", "hello")
    assert len(jobs) == 1 and jobs[0]["metadata"]["name"].startswith("every-five-")
    assert kubectl.object("CronJob", "hello", "every-five")["status"]["lastScheduleTime"]


def test_schedule_times_passed_in_real_time_never_fire(standin: Standin, kubectl: Kubectl) -> None:
    kubectl.apply(cronjob())
    # As if the CronJob last ran ten minutes ago: two schedule times have passed since, but
    # no `advance` skipped over them.
    stale = kubectl.object("CronJob", "hello", "every-five")
    stale["status"] = {"lastScheduleTime": rfc3339(standin.clock.now() - timedelta(minutes=10))}
    standin.store.update_status(stale)
    standin.settle()
    assert kubectl.objects("Job", "hello") == []


def test_cronjob_fires_only_for_an_advance_that_reaches_its_schedule_time(
    standin: Standin, kubectl: Kubectl
) -> None:
    kubectl.apply(cronjob())
    now = standin.clock.now()
    next_time = croniter("*/5 * * * *", now).get_next(datetime)
    standin.advance(max(0.0, (next_time - now).total_seconds() - 1))
    standin.settle()
    assert kubectl.objects("Job", "hello") == []
    standin.advance(2)
    (fired,) = kubectl.objects("Job", "hello")
    scheduled = fired["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
    assert scheduled == rfc3339(next_time)


def test_clock_remembers_each_skipped_stretch(standin: Standin) -> None:
    before = standin.clock.now()
    standin.clock.advance(90)
    (jump,) = standin.clock.jumps()
    assert jump.end - jump.start == timedelta(seconds=90)
    assert before <= jump.start <= standin.clock.now() - timedelta(seconds=90)


def test_suspended_cronjob_does_not_fire(standin: Standin, kubectl: Kubectl) -> None:
    kubectl.apply(cronjob(suspend=True))
    standin.advance(601)
    assert kubectl.objects("Job", "hello") == []


def test_cronjob_fired_on_demand_creates_a_job_owned_by_it(
    standin: Standin, kubectl: Kubectl
) -> None:
    kubectl.apply(cronjob())
    created = standin.fire_cronjob("hello", "every-five")
    assert created["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    wait_job(standin, kubectl, created["metadata"]["name"], "Complete")
