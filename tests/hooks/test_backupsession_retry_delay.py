"""BackupSession hook: ``retryConfig.delay``. The retry Job is created when the failure is seen
and its executor waits until the failed attempt's end + delay (``--not-before``); the time comes
only from the observed Job, so the same request always gets the same answer."""

import json
from typing import Any

from hooks import names
from tests.hooks import world
from tests.hooks.checks import child, condition, kinds
from tests.hooks.test_backupsession import (
    backup_session,
    configuration,
    finished_job,
    sync,
    world_objects,
)

FAILED_AT = "2024-09-17T11:36:20Z"  # the Failed condition of finished_job(failed_reason=…)
STARTED_AT = "2024-09-17T11:36:10Z"  # its status.startTime
# The retry Job of a session without a delay, as it has always been named: a delay-less retry
# must keep its name (and bytes), or an upgrade would start a second Job.
RETRY_WITHOUT_DELAY = "backup-sample-zookeeper-backup-fuent-backup-1726572962-3b3d27ec"


def args_of(job: dict[str, Any]) -> list[str]:
    return job["spec"]["template"]["spec"]["containers"][0]["args"]


def first_failure(bc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The first attempt's Job as observed after it failed at FAILED_AT, and its pod."""
    first = child(sync(backup_session(), related=world_objects(bc)), "Job")
    return finished_job(first, "Failed", "ZooKeeper unreachable", "BackoffLimitExceeded")


def retry_response(bc: dict[str, Any], failed: dict[str, Any] | None = None) -> dict[str, Any]:
    """The sync that sees the first attempt failed (and so asks for the retry)."""
    observed, pod = first_failure(bc)
    return sync(backup_session(), [failed or observed], world_objects(bc, extra=[pod]))


def retry_job(response: dict[str, Any]) -> dict[str, Any]:
    [job] = [c for c in response["children"] if c["metadata"]["labels"][names.LABEL_ATTEMPT] == "1"]
    return job


def failed_at(job: dict[str, Any], **status: Any) -> dict[str, Any]:
    """``job`` observed failed with exactly ``status``."""
    return world.observed(job, **status)


def test_retry_job_waits_until_the_failure_time_plus_the_delay():
    response = retry_response(configuration(retryConfig={"maxRetry": 1, "delay": "5m"}))
    assert "--not-before=2024-09-17T11:41:20Z" in args_of(retry_job(response))


def test_the_first_attempt_does_not_wait():
    bc = configuration(retryConfig={"maxRetry": 1, "delay": "5m"})
    job = child(sync(backup_session(), related=world_objects(bc)), "Job")
    assert not any(arg.startswith("--not-before") for arg in args_of(job))


def test_the_delayed_retrys_deadline_grows_by_the_delay():
    bc = configuration(retryConfig={"maxRetry": 1, "delay": "5m"}, backupTimeout="2h")
    response = retry_response(bc)
    assert retry_job(response)["spec"]["activeDeadlineSeconds"] == 7200 + 300


def test_a_delayed_retry_without_a_backup_timeout_has_no_deadline():
    response = retry_response(configuration(retryConfig={"maxRetry": 1, "delay": "5m"}))
    assert "activeDeadlineSeconds" not in retry_job(response)["spec"]


def test_while_the_retry_waits_the_session_runs_and_says_when_it_starts():
    response = retry_response(configuration(retryConfig={"maxRetry": 1, "delay": "5m"}))
    name = retry_job(response)["metadata"]["name"]
    assert response["status"]["phase"] == "Running"
    assert response["status"]["retried"] is True
    assert response["resyncAfterSeconds"] == 15
    ensured = condition(response["status"]["conditions"], "BackupExecutorEnsured")
    assert ensured["status"] == "True"
    assert ensured["message"] == (
        f"Job {name} starts its attempt 2 at 2024-09-17T11:41:20Z (retryConfig.delay 5m)"
    )


def test_the_observed_waiting_retry_is_kept_and_still_described():
    bc = configuration(retryConfig={"maxRetry": 1, "delay": "5m"}, backupTimeout="2h")
    observed_first, pod = first_failure(bc)
    retry = retry_job(retry_response(bc))
    waiting = world.observed(retry, active=1, startTime="2024-09-17T11:36:25Z")
    response = sync(backup_session(), [observed_first, waiting], world_objects(bc, extra=[pod]))
    assert kinds(response) == kinds({"children": [observed_first, retry]})
    assert retry_job(response) == retry
    ensured = condition(response["status"]["conditions"], "BackupExecutorEnsured")
    assert ensured["message"].startswith(f"Job {retry['metadata']['name']} starts its attempt 2")
    # startTime + backupTimeout + delay: when Kubernetes ends the waiting Job.
    assert response["status"]["backupDeadline"] == "2024-09-17T13:41:25Z"


def test_the_same_request_gets_a_byte_identical_response():
    bc = configuration(retryConfig={"maxRetry": 1, "delay": "5m"}, backupTimeout="2h")
    once = json.dumps(retry_response(bc), sort_keys=True)
    again = json.dumps(retry_response(bc), sort_keys=True)
    assert once == again


def test_without_a_failed_condition_time_the_delay_counts_from_the_jobs_start():
    bc = configuration(retryConfig={"maxRetry": 1, "delay": "90s"})
    observed, _ = first_failure(bc)
    untimed = [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]
    failed = failed_at(observed, startTime=STARTED_AT, conditions=untimed)
    assert "--not-before=2024-09-17T11:37:40Z" in args_of(retry_job(retry_response(bc, failed)))


def test_without_any_status_time_the_delay_counts_from_the_jobs_creation():
    bc = configuration(retryConfig={"maxRetry": 1, "delay": "1h"})
    observed, _ = first_failure(bc)
    observed["metadata"]["creationTimestamp"] = "2024-09-17T11:30:00Z"
    untimed = [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]
    failed = failed_at(observed, conditions=untimed)
    assert "--not-before=2024-09-17T12:30:00Z" in args_of(retry_job(retry_response(bc, failed)))


def test_a_fractional_delay_is_rounded_up_to_whole_seconds():
    bc = configuration(retryConfig={"maxRetry": 1, "delay": "1.5s"})
    assert "--not-before=2024-09-17T11:36:22Z" in args_of(retry_job(retry_response(bc)))


def test_without_a_delay_the_retry_job_is_the_same_as_it_always_was():
    response = retry_response(configuration(retryConfig={"maxRetry": 1}))
    assert retry_job(response)["metadata"]["name"] == RETRY_WITHOUT_DELAY
    assert not any(arg.startswith("--not-before") for arg in args_of(retry_job(response)))


def test_a_zero_delay_is_no_delay():
    without = retry_response(configuration(retryConfig={"maxRetry": 1}))
    zero = retry_response(configuration(retryConfig={"maxRetry": 1, "delay": "0s"}))
    assert json.dumps(zero, sort_keys=True) == json.dumps(without, sort_keys=True)
