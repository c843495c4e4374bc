"""The Job and CronJob controllers and a kubelet: Jobs run as real local processes.

A Job gets Pods (owned by it, carrying its template's labels); each Pod runs its container's
command — the real `executor` — with env resolved from the store's Secrets, emptyDir volumes as
temporary directories and hostPath volumes as they are. When the process ends, the file at
terminationMessagePath becomes the Pod's termination message, the exit code its phase, and the
Job's status/conditions follow Kubernetes' rules (backoffLimit, activeDeadlineSeconds).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from croniter import croniter

from tests.standin.clock import Clock, parse_rfc3339, rfc3339
from tests.standin.podspec import (
    ContainerConfigError,
    ProcessSpec,
    VolumeSetupError,
    prepare_volumes,
    process_spec,
)
from tests.standin.store import AlreadyExists, ApiError, NotFound, Store

# The kubelet keeps at most this much of the termination message.
TERMINATION_MESSAGE_LIMIT = 4096
# Job controller's pod-failure backoff: 10 s doubling, capped at 6 minutes.
JOB_BACKOFF_BASE_SECONDS = 10.0
JOB_BACKOFF_MAX_SECONDS = 360.0


@dataclass
class _Running:
    """A pod's process and the local paths that belong to it."""

    process: subprocess.Popen[bytes]
    spec: ProcessSpec
    log: IO[bytes]
    started: datetime


@dataclass
class _JobState:
    """What the Job controller remembers between polls."""

    next_attempt: datetime | None = None
    pods: list[str] = field(default_factory=list)


def _condition(kind: str, reason: str, message: str, now: str) -> dict[str, Any]:
    return {
        "type": kind,
        "status": "True",
        "reason": reason,
        "message": message,
        "lastProbeTime": now,
        "lastTransitionTime": now,
    }


def _finished(job: dict[str, Any]) -> bool:
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in (job.get("status") or {}).get("conditions") or []
    )


class JobRunner:
    """Job controller + kubelet: creates Pods for Jobs and runs them as local processes."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        workdir: Path,
        base_env: dict[str, str],
        backoff_base_seconds: float = JOB_BACKOFF_BASE_SECONDS,
    ) -> None:
        self.store = store
        self.clock = clock
        self.workdir = workdir
        self.base_env = base_env
        self.backoff_base_seconds = backoff_base_seconds
        self._running: dict[str, _Running] = {}  # pod uid -> process
        self._jobs: dict[str, _JobState] = {}  # job uid -> state

    # ----- public ---------------------------------------------------------------------------

    def poll(self) -> int:
        """One pass over every Job and running Pod; returns how many things changed."""
        changes = self._reap()
        for job in self.store.list("batch/v1", "Job"):
            changes += self._reconcile(job)
        changes += self._start_pending_pods()
        return changes

    def active(self) -> int:
        """Processes running right now."""
        return len(self._running)

    def log_of(self, namespace: str, pod_name: str) -> str:
        """A pod's combined stdout and stderr (like `kubectl logs`)."""
        pod = self.store.get("v1", "Pod", namespace, pod_name)
        if pod is None:
            raise NotFound(f'pods "{pod_name}" not found')
        path = self._pod_dir(pod) / "log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop_all(self) -> None:
        """Kill every running process (used when the stand-in shuts down)."""
        for running in list(self._running.values()):
            self._kill(running)
        self._running.clear()

    # ----- job controller -------------------------------------------------------------------

    def _reconcile(self, job: dict[str, Any]) -> int:
        meta = job["metadata"]
        if meta.get("deletionTimestamp") or _finished(job):
            return self._expire(job)
        spec = job["spec"]
        state = self._jobs.setdefault(meta["uid"], _JobState())
        pods = self._pods_of(job)
        active = [p for p in pods if p.get("status", {}).get("phase") in ("Pending", "Running")]
        failed = sum(1 for p in pods if p.get("status", {}).get("phase") == "Failed")
        succeeded = sum(1 for p in pods if p.get("status", {}).get("phase") == "Succeeded")
        now = self.clock.now()
        status = dict(job.get("status") or {})
        before = dict(status)
        if spec.get("suspend"):
            for pod in active:
                self._delete_pod(pod)
            status.pop("active", None)
            return self._write_job_status(job, status, before)
        if (active or succeeded or failed) and "startTime" not in status:
            status["startTime"] = rfc3339(now)
        status["active"] = len(active)
        if succeeded:
            status["succeeded"] = succeeded
        if failed:
            status["failed"] = failed
        deadline = spec.get("activeDeadlineSeconds")
        started = status.get("startTime")
        if deadline and started and now - parse_rfc3339(started) > timedelta(seconds=deadline):
            for pod in active:
                self._kill_pod(pod, "DeadlineExceeded")
            return self._fail(
                job,
                status,
                before,
                "DeadlineExceeded",
                "Job was active longer than specified deadline",
            )
        completions = spec.get("completions", 1) or 1
        if succeeded >= completions:
            status["active"] = 0
            status["completionTime"] = rfc3339(now)
            stamp = rfc3339(now)
            status["conditions"] = [
                *(status.get("conditions") or []),
                _condition(
                    "SuccessCriteriaMet",
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                    stamp,
                ),
                _condition(
                    "Complete",
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                    stamp,
                ),
            ]
            return self._write_job_status(job, status, before)
        backoff_limit = spec.get("backoffLimit", 6)
        if failed > backoff_limit:
            return self._fail(
                job,
                status,
                before,
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            )
        if not active:
            if failed and state.next_attempt is None:
                delay = min(self.backoff_base_seconds * 2 ** (failed - 1), JOB_BACKOFF_MAX_SECONDS)
                state.next_attempt = now + timedelta(seconds=delay)
            if state.next_attempt is None or now >= state.next_attempt:
                state.next_attempt = None
                self._create_pod(job, attempt=failed + succeeded)
                status["active"] = 1
                if "startTime" not in status:
                    status["startTime"] = rfc3339(now)
        return self._write_job_status(job, status, before)

    def _fail(
        self,
        job: dict[str, Any],
        status: dict[str, Any],
        before: dict[str, Any],
        reason: str,
        message: str,
    ) -> int:
        stamp = rfc3339(self.clock.now())
        status["active"] = 0
        status["conditions"] = [
            *(status.get("conditions") or []),
            _condition("FailureTarget", reason, message, stamp),
            _condition("Failed", reason, message, stamp),
        ]
        return self._write_job_status(job, status, before)

    def _expire(self, job: dict[str, Any]) -> int:
        ttl = job["spec"].get("ttlSecondsAfterFinished")
        finished_at = (job.get("status") or {}).get("completionTime") or next(
            (
                c["lastTransitionTime"]
                for c in (job.get("status") or {}).get("conditions") or []
                if c.get("type") in ("Complete", "Failed")
            ),
            None,
        )
        if ttl is None or finished_at is None or job["metadata"].get("deletionTimestamp"):
            return 0
        if self.clock.now() - parse_rfc3339(finished_at) < timedelta(seconds=ttl):
            return 0
        try:
            self.store.delete(
                "batch/v1", "Job", job["metadata"]["namespace"], job["metadata"]["name"]
            )
        except NotFound:
            return 0
        return 1

    def _write_job_status(
        self, job: dict[str, Any], status: dict[str, Any], before: dict[str, Any]
    ) -> int:
        if status == before:
            return 0
        job["status"] = status
        try:
            self.store.update_status(job)
        except (NotFound, ApiError):
            return 0
        return 1

    def _pods_of(self, job: dict[str, Any]) -> list[dict[str, Any]]:
        uid = job["metadata"]["uid"]
        return [
            p
            for p in self.store.list("v1", "Pod", job["metadata"]["namespace"])
            if any(
                r.get("uid") == uid and r.get("controller")
                for r in p["metadata"].get("ownerReferences") or []
            )
        ]

    def _create_pod(self, job: dict[str, Any], attempt: int) -> None:
        meta = job["metadata"]
        template = job["spec"]["template"]
        suffix = hashlib.sha256(f"{meta['uid']}/{attempt}".encode()).hexdigest()[:5]
        labels = {
            **((template.get("metadata") or {}).get("labels") or {}),
            "batch.kubernetes.io/controller-uid": meta["uid"],
            "batch.kubernetes.io/job-name": meta["name"],
            "controller-uid": meta["uid"],
            "job-name": meta["name"],
        }
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{meta['name'][:57]}-{suffix}",
                "namespace": meta["namespace"],
                "labels": labels,
                "annotations": (template.get("metadata") or {}).get("annotations") or {},
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": template["spec"],
            "status": {"phase": "Pending"},
        }
        if not pod["metadata"]["annotations"]:
            del pod["metadata"]["annotations"]
        try:
            created = self.store.create(pod)
        except AlreadyExists:
            return
        created["status"] = {"phase": "Pending", "startTime": rfc3339(self.clock.now())}
        self.store.update_status(created)

    # ----- kubelet --------------------------------------------------------------------------

    def _pod_dir(self, pod: dict[str, Any]) -> Path:
        return self.workdir / "pods" / pod["metadata"]["namespace"] / pod["metadata"]["name"]

    def _lookup(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.store.get("v1", kind, namespace, name)

    def _start_pending_pods(self) -> int:
        changes = 0
        for pod in self.store.list("v1", "Pod"):
            if pod["metadata"]["uid"] in self._running or pod["metadata"].get("deletionTimestamp"):
                continue
            if (pod.get("status") or {}).get("phase") != "Pending":
                continue
            changes += self._start(pod)
        return changes

    def _start(self, pod: dict[str, Any]) -> int:
        pod_dir = self._pod_dir(pod)
        pod_dir.mkdir(parents=True, exist_ok=True)
        termination_file = pod_dir / "termination-log"
        termination_file.write_text("")
        container = pod["spec"]["containers"][0]
        env = {**self.base_env, "HOME": str(pod_dir), "HOSTNAME": pod["metadata"]["name"]}
        try:
            volumes = prepare_volumes(pod, pod_dir, self._lookup)
            spec = process_spec(pod, self._lookup, volumes, termination_file, env)
        except ContainerConfigError as error:
            return self._waiting(pod, container["name"], "CreateContainerConfigError", str(error))
        except VolumeSetupError:
            return self._waiting(pod, container["name"], "ContainerCreating")
        executable = shutil.which(spec.argv[0], path=spec.env.get("PATH"))
        if executable is None:
            return self._terminated(
                pod,
                128,
                "StartError",
                f'exec: "{spec.argv[0]}": executable file not found in $PATH',
                None,
            )
        log = (pod_dir / "log").open("ab")
        process = subprocess.Popen(
            [executable, *spec.argv[1:]],
            env=spec.env,
            cwd=spec.cwd or str(pod_dir),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a kill reaches its children
        )
        started = self.clock.now()
        self._running[pod["metadata"]["uid"]] = _Running(process, spec, log, started)
        pod["status"] = {
            **(pod.get("status") or {}),
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": container["name"],
                    "image": container.get("image", ""),
                    "ready": True,
                    "restartCount": 0,
                    "started": True,
                    "state": {"running": {"startedAt": rfc3339(started)}},
                }
            ],
        }
        self.store.update_status(pod)
        return 1

    def _waiting(self, pod: dict[str, Any], container: str, reason: str, message: str = "") -> int:
        """The pod stays Pending, its container waiting (the kubelet retries each poll)."""
        waiting = {"reason": reason, **({"message": message} if message else {})}
        status = {
            **(pod.get("status") or {}),
            "phase": "Pending",
            "containerStatuses": [
                {
                    "name": container,
                    "ready": False,
                    "restartCount": 0,
                    "state": {"waiting": waiting},
                }
            ],
        }
        if status == pod.get("status"):
            return 0
        pod["status"] = status
        self.store.update_status(pod)
        return 1

    def _reap(self) -> int:
        changes = 0
        for uid, running in list(self._running.items()):
            code = running.process.poll()
            pod = self._pod_by_uid(uid)
            if pod is None:
                self._kill(running)
                del self._running[uid]
                changes += 1
                continue
            if code is None:
                continue
            running.log.close()
            del self._running[uid]
            message = self._termination_message(pod, running, code)
            changes += self._terminated(
                pod, code, "Completed" if code == 0 else "Error", message, running.started
            )
        return changes

    def _termination_message(self, pod: dict[str, Any], running: _Running, code: int) -> str:
        path = running.spec.termination_message_path
        message = (
            path.read_bytes()[:TERMINATION_MESSAGE_LIMIT].decode(errors="replace")
            if path.exists()
            else ""
        )
        policy = pod["spec"]["containers"][0].get("terminationMessagePolicy", "File")
        if not message.strip() and code != 0 and policy == "FallbackToLogsOnError":
            log = (self._pod_dir(pod) / "log").read_bytes()
            lines = log.decode(errors="replace").splitlines()[-80:]
            message = "\n".join(lines)[-2048:]
        return message

    def _terminated(
        self, pod: dict[str, Any], code: int, reason: str, message: str, started: datetime | None
    ) -> int:
        container = pod["spec"]["containers"][0]
        now = rfc3339(self.clock.now())
        terminated: dict[str, Any] = {"exitCode": code, "reason": reason, "finishedAt": now}
        if started is not None:
            terminated["startedAt"] = rfc3339(started)
        if message:
            terminated["message"] = message
        pod["status"] = {
            **(pod.get("status") or {}),
            "phase": "Succeeded" if code == 0 else "Failed",
            "containerStatuses": [
                {
                    "name": container["name"],
                    "image": container.get("image", ""),
                    "ready": False,
                    "restartCount": 0,
                    "started": False,
                    "state": {"terminated": terminated},
                }
            ],
        }
        try:
            self.store.update_status(pod)
        except NotFound:
            return 0
        return 1

    def _pod_by_uid(self, uid: str) -> dict[str, Any] | None:
        return next((p for p in self.store.list("v1", "Pod") if p["metadata"]["uid"] == uid), None)

    def _kill_pod(self, pod: dict[str, Any], reason: str) -> None:
        running = self._running.pop(pod["metadata"]["uid"], None)
        if running is not None:
            self._kill(running)
            running.log.close()
        self._terminated(pod, 137, reason, "", running.started if running else None)

    def _delete_pod(self, pod: dict[str, Any]) -> None:
        running = self._running.pop(pod["metadata"]["uid"], None)
        if running is not None:
            self._kill(running)
        with contextlib.suppress(NotFound):
            self.store.delete("v1", "Pod", pod["metadata"]["namespace"], pod["metadata"]["name"])

    @staticmethod
    def _kill(running: _Running) -> None:
        if running.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(running.process.pid, signal.SIGKILL)
            running.process.wait()
        if not running.log.closed:
            running.log.close()


def _last_schedule_at_or_before(schedule: str, moment: datetime) -> datetime:
    """The latest time of a cron schedule that is not after `moment`."""
    # croniter's get_prev is strictly before its start; a microsecond on makes it inclusive.
    return croniter(schedule, moment + timedelta(microseconds=1)).get_prev(datetime)


class CronJobRunner:
    """The CronJob controller: creates Jobs when an `advance` of the clock skips over a
    schedule time (never as real time passes), or on demand with `fire`."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._manual = 0

    def poll(self) -> int:
        """Fire every CronJob whose next schedule has passed; prune finished Jobs' history."""
        changes = 0
        for cronjob in self.store.list("batch/v1", "CronJob"):
            if cronjob["metadata"].get("deletionTimestamp"):
                continue
            changes += self._tick(cronjob)
        return changes

    def fire(self, namespace: str, name: str) -> dict[str, Any]:
        """Like `kubectl create job --from=cronjob/<name>`: a Job from the template, now."""
        cronjob = self.store.get("batch/v1", "CronJob", namespace, name)
        if cronjob is None:
            raise NotFound(f'cronjobs.batch "{name}" not found')
        self._manual += 1
        stamp = int(self.clock.now().timestamp())
        return self._create_job(cronjob, f"{name[:40]}-manual-{stamp}-{self._manual}", None)

    def _tick(self, cronjob: dict[str, Any]) -> int:
        spec = cronjob["spec"]
        status = dict(cronjob.get("status") or {})
        before = dict(status)
        jobs = self._jobs_of(cronjob)
        active = [j for j in jobs if not _finished(j)]
        status["active"] = [
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": j["metadata"]["name"],
                "namespace": j["metadata"]["namespace"],
                "uid": j["metadata"]["uid"],
            }
            for j in active
        ]
        if not status["active"]:
            del status["active"]
        succeeded = [j for j in jobs if _finished(j) and (j.get("status") or {}).get("succeeded")]
        if succeeded:
            latest = max(j["status"].get("completionTime", "") for j in succeeded)
            if latest:
                status["lastSuccessfulTime"] = latest
        changes = self._prune_history(cronjob, jobs)
        scheduled = self._due_schedule(cronjob)
        if scheduled is not None and not spec.get("suspend"):
            policy = spec.get("concurrencyPolicy", "Allow")
            if policy == "Forbid" and active:
                pass  # skipped; the next poll tries again while the time is still missed
            else:
                if policy == "Replace":
                    for job in active:
                        self.store.delete(
                            "batch/v1", "Job", job["metadata"]["namespace"], job["metadata"]["name"]
                        )
                minutes = int(scheduled.timestamp() // 60)
                name = f"{cronjob['metadata']['name'][:52]}-{minutes}"
                job = self._create_job(cronjob, name, scheduled)
                status.setdefault("active", []).append(
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": job["metadata"]["name"],
                        "namespace": job["metadata"]["namespace"],
                        "uid": job["metadata"]["uid"],
                    }
                )
                status["lastScheduleTime"] = rfc3339(scheduled)
                changes += 1
        if status != before:
            cronjob["status"] = status
            try:
                self.store.update_status(cronjob)
            except NotFound:
                return changes
            changes += 1
        return changes

    def _due_schedule(self, cronjob: dict[str, Any]) -> datetime | None:
        """The most recent missed schedule time, or None when nothing is due.

        Only schedule times that an `advance` of the clock skipped over count: real time
        passing never fires a CronJob here (tests fire one with `advance` or `fire`).
        """
        spec = cronjob["spec"]
        status = cronjob.get("status") or {}
        since = parse_rfc3339(
            status.get("lastScheduleTime") or cronjob["metadata"]["creationTimestamp"]
        )
        latest = None
        for jump in self.clock.jumps():
            candidate = _last_schedule_at_or_before(spec["schedule"], jump.end)
            if candidate > max(jump.start, since) and (latest is None or candidate > latest):
                latest = candidate
        if latest is None:
            return None
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and self.clock.now() - latest > timedelta(seconds=deadline):
            return None
        return latest

    def _jobs_of(self, cronjob: dict[str, Any]) -> list[dict[str, Any]]:
        uid = cronjob["metadata"]["uid"]
        return [
            j
            for j in self.store.list("batch/v1", "Job", cronjob["metadata"]["namespace"])
            if any(r.get("uid") == uid for r in j["metadata"].get("ownerReferences") or [])
        ]

    def _prune_history(self, cronjob: dict[str, Any], jobs: list[dict[str, Any]]) -> int:
        spec = cronjob["spec"]
        changes = 0
        for wanted_success, limit in (
            (True, spec.get("successfulJobsHistoryLimit", 3)),
            (False, spec.get("failedJobsHistoryLimit", 1)),
        ):
            done = [
                j
                for j in jobs
                if _finished(j) and bool((j.get("status") or {}).get("succeeded")) == wanted_success
            ]
            done.sort(key=lambda j: j["metadata"]["creationTimestamp"])
            for job in done[: max(0, len(done) - limit)]:
                try:
                    self.store.delete(
                        "batch/v1", "Job", job["metadata"]["namespace"], job["metadata"]["name"]
                    )
                    changes += 1
                except NotFound:
                    pass
        return changes

    def _create_job(
        self, cronjob: dict[str, Any], name: str, scheduled: datetime | None
    ) -> dict[str, Any]:
        template = cronjob["spec"]["jobTemplate"]
        meta = template.get("metadata") or {}
        annotations = dict(meta.get("annotations") or {})
        if scheduled is not None:
            annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"] = rfc3339(scheduled)
        else:
            annotations["cronjob.kubernetes.io/instantiate"] = "manual"
        job = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": name,
                "namespace": cronjob["metadata"]["namespace"],
                "labels": dict(meta.get("labels") or {}),
                "annotations": annotations,
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "CronJob",
                        "name": cronjob["metadata"]["name"],
                        "uid": cronjob["metadata"]["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": template["spec"],
        }
        if not job["metadata"]["labels"]:
            del job["metadata"]["labels"]
        return self.store.create(job)
