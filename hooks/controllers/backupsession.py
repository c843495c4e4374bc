"""BackupSession → one backup Job that dumps ZooKeeper once and uploads into every repository
of the session; status from the Job's result (termination message) and the Snapshots.

Phases (reference §1.6): Pending (waiting for repositories/target), Running, Succeeded, Failed,
Skipped (another backup or a restore of the same target is active, or the invoker is not
Ready/paused). A failed Job is retried with a new Job (new name) while ``retryConfig`` allows.
Terminal phases are carried forward; the Jobs then stay as they are.

``retryConfig.delay``: the retry Job is created as soon as the failure is seen (a hook reads no
clock), but its executor is told ``--not-before=<end of the failed attempt + delay>`` and waits
until then; the end is the failed Job's own time (``Failed`` condition, else ``startTime``, else
``creationTimestamp``), so the same request always yields the same Job. Its
``activeDeadlineSeconds`` grows by the delay so the wait does not eat ``backupTimeout``.

A Secret named by the Job's env that does not exist keeps its pod waiting in
``CreateContainerConfigError``; the session stays Running (the kubelet starts the pod once the
Secret exists) and BackupExecutorEnsured is False, reason SecretNotFound, naming the Secret and
the field that names it (``hooks.secret_uses``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from hooks import conditions, jobs, names, pod_waits
from hooks.protocol import (
    SyncRequest,
    as_desired,
    composite_response,
    customize_response,
    observed_as_desired,
    related_rule,
)
from hooks.secret_uses import (
    SecretUse,
    appbinding_uses,
    repository_uses,
    storage_uses,
    waiting_pod,
)
from schemas.defaults import with_defaults
from schemas.durations import parse_duration
from schemas.validation import validate

CORE_API = "core.kubestash.com/v1alpha1"
STORAGE_API = "storage.kubestash.com/v1alpha1"
TERMINAL = frozenset({"Succeeded", "Failed", "Skipped"})
ACTIVE_RESTORE_PHASES = frozenset({"Pending", "Running", ""})
RESYNC_WAITING_SECONDS = 15
JOB_KIND = "backup Job"


def customize(request: SyncRequest) -> dict[str, Any]:
    """Related: the invoker and its siblings, repositories, storages, the target's AppBinding,
    the Job's pods, this session's Snapshots, RestoreSessions, the Addon catalog."""
    ns = request.namespace
    return customize_response(
        [
            related_rule(CORE_API, "backupconfigurations", namespace=ns),
            related_rule(CORE_API, "backupsessions", namespace=ns),
            related_rule(CORE_API, "restoresessions", namespace=ns),
            related_rule(STORAGE_API, "repositories", namespace=ns),
            related_rule(STORAGE_API, "backupstorages"),
            related_rule(
                STORAGE_API,
                "snapshots",
                namespace=ns,
                match_labels={names.LABEL_BACKUP_SESSION: request.name},
            ),
            related_rule(jobs.APPBINDING_API, "appbindings", namespace=ns),
            related_rule(
                "v1",
                "pods",
                namespace=ns,
                match_labels={
                    names.LABEL_INVOKER_NAME: request.name,
                    names.LABEL_COMPONENT: names.COMPONENT_BACKUP,
                },
            ),
            related_rule(jobs.ADDON_API, "addons"),
            related_rule(jobs.ADDON_API, "functions"),
        ]
    )


# ----------------------------------------------------------------------------- helpers


def _phase(obj: Mapping[str, Any] | None) -> str:
    return str(((obj or {}).get("status") or {}).get("phase") or "")


def _created(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("creationTimestamp") or ""), str(meta.get("name") or "")


def _session_config(bc: Mapping[str, Any], session_name: str) -> dict[str, Any] | None:
    for session in (bc.get("spec") or {}).get("sessions") or ():
        if isinstance(session, Mapping) and session.get("name") == session_name:
            return dict(session)
    return None


def _target(bc: Mapping[str, Any]) -> tuple[str, str, str]:
    target = (bc.get("spec") or {}).get("target") or {}
    meta = bc.get("metadata") or {}
    return (
        str(target.get("kind") or ""),
        str(target.get("namespace") or meta.get("namespace") or ""),
        str(target.get("name") or ""),
    )


def _attempt(job: Mapping[str, Any]) -> int:
    value = ((job.get("metadata") or {}).get("labels") or {}).get(names.LABEL_ATTEMPT, "0")
    return int(value) if str(value).isdigit() else 0


def _invoker_missing(request: SyncRequest) -> str:
    """Why the invoking BackupConfiguration cannot be read: not found, or its spec is wrong."""
    invoker = ((request.parent.get("spec") or {}).get("invoker") or {}).get("name")
    return request.related.missing("BackupConfiguration", CORE_API, str(invoker))


def skip_reason(request: SyncRequest, bc: Mapping[str, Any] | None) -> str | None:
    """Why this BackupSession must not run now, or None."""
    if bc is None:
        return _invoker_missing(request)
    bc_name = str((bc.get("metadata") or {}).get("name"))
    if (bc.get("spec") or {}).get("paused"):
        return f"BackupConfiguration {bc_name} is paused"
    if _phase(bc) != "Ready":
        return f"BackupConfiguration {bc_name} is not Ready"
    target = _target(bc)
    for restore in request.related.list("RestoreSession", CORE_API):
        paused = {
            str((p or {}).get("name"))
            for p in (restore.get("status") or {}).get("pausedBackups") or ()
            if isinstance(p, Mapping)
        }
        restore_target = _target({"metadata": restore.get("metadata"), "spec": restore.get("spec")})
        restoring = _phase(restore) in ACTIVE_RESTORE_PHASES and restore_target == target
        if bc_name in paused or restoring:
            return f"RestoreSession {restore['metadata']['name']} is restoring the same target"
    same_target = {
        str(b["metadata"]["name"])
        for b in request.related.list("BackupConfiguration", CORE_API)
        if _target(b) == target
    } | {bc_name}
    me = _created(request.parent)
    for other in request.related.list("BackupSession", CORE_API):
        other_name = str(other["metadata"]["name"])
        invoker = str(((other.get("spec") or {}).get("invoker") or {}).get("name") or "")
        if other_name == request.name or invoker not in same_target:
            continue
        phase = _phase(other)
        if phase == "Running" or (phase in ("", "Pending") and _created(other) < me):
            return f"BackupSession {other_name} of the same target is {phase or 'Pending'}"
    return None


# ----------------------------------------------------------------------------- retry delay

NOT_BEFORE_OPTION = "--not-before="
# The conditions a finished attempt carries; their lastTransitionTime is when it ended.
_END_CONDITIONS = ("Failed", "FailureTarget", "Complete", "SuccessCriteriaMet")


def retry_delay_seconds(bc: Mapping[str, Any], session: Mapping[str, Any]) -> int:
    """The session's ``retryConfig.delay`` in whole seconds, rounded up so the wait is never
    shorter than asked; 0 when there is none."""
    text = (session.get("retryConfig") or {}).get("delay")
    if not text:
        return 0
    try:
        seconds = math.ceil(parse_duration(str(text)).total_seconds())
    except ValueError as problem:
        raise jobs.JobInputError(
            f"BackupConfiguration {bc['metadata']['name']}: "
            f"spec.sessions[{session.get('name')}].retryConfig.delay",
            str(problem),
        ) from None
    return max(seconds, 0)


def _time(text: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def attempt_end(job: Mapping[str, Any]) -> datetime:
    """When an observed attempt ended: its terminal condition's ``lastTransitionTime``, else its
    ``status.startTime``, else its ``metadata.creationTimestamp`` (every stored object has one,
    so a Job without it is an unexpected shape: ValueError, answered with HTTP 500)."""
    status = job.get("status") or {}
    found = {
        str(c.get("type")): c.get("lastTransitionTime")
        for c in status.get("conditions") or ()
        if isinstance(c, Mapping) and c.get("status") == "True"
    }
    candidates = [
        *(found.get(type_) for type_ in _END_CONDITIONS),
        status.get("startTime"),
        (job.get("metadata") or {}).get("creationTimestamp"),
    ]
    for text in candidates:
        moment = _time(text) if text else None
        if moment is not None:
            return moment
    raise ValueError(f"Job {(job.get('metadata') or {}).get('name')} carries no readable time")


def rfc3339(moment: datetime) -> str:
    """UTC, whole seconds, as Kubernetes writes times (``2024-09-17T11:41:20Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def not_before(job: Mapping[str, Any]) -> str | None:
    """The ``--not-before`` time a (desired or observed) backup Job passes to its executor."""
    pod_spec = ((job.get("spec") or {}).get("template") or {}).get("spec") or {}
    for container in pod_spec.get("containers") or ():
        for arg in container.get("args") or ():
            if str(arg).startswith(NOT_BEFORE_OPTION):
                return str(arg).removeprefix(NOT_BEFORE_OPTION)
    return None


# ----------------------------------------------------------------------------- the Job


def _storage_ref(request: SyncRequest, repository: Mapping[str, Any]) -> tuple[str, str]:
    """(name, namespace) of the BackupStorage an observed Repository stores into."""
    ref = (repository.get("spec") or {}).get("storageRef") or {}
    return str(ref.get("name")), str(ref.get("namespace") or request.namespace)


def _backup_job(
    request: SyncRequest,
    bc: Mapping[str, Any],
    session: Mapping[str, Any],
    attempt: int,
    after: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any] | None, str]:
    """The Job for an attempt, or (None, why it cannot be built yet); ``after`` is the failed
    attempt a retry follows (its end starts ``retryConfig.delay``)."""
    session_name = str(session.get("name"))
    kind, target_ns, target_name = _target(bc)
    appbinding = request.related.get("AppBinding", jobs.APPBINDING_API, target_name, target_ns)
    if appbinding is None:
        return None, request.related.missing(
            "AppBinding", jobs.APPBINDING_API, target_name, target_ns
        )
    repositories = []
    for index, repo in enumerate(session.get("repositories") or ()):
        observed = request.related.get("Repository", STORAGE_API, str(repo.get("name")))
        rejected = request.related.rejection("Repository", STORAGE_API, str(repo.get("name")))
        if rejected is not None:
            return None, rejected
        if observed is None or _phase(observed) != "Ready":
            return None, f"Repository {repo.get('name')} is not Ready yet"
        storage_name, storage_ns = _storage_ref(request, observed)
        storage = request.related.get("BackupStorage", STORAGE_API, storage_name, storage_ns)
        if storage is None:
            return None, request.related.missing(
                "BackupStorage", STORAGE_API, storage_name, storage_ns
            )
        repositories.append(
            jobs.repository_target(
                str(repo.get("name")),
                with_defaults(storage)["spec"]["storage"],
                str((observed.get("spec") or {}).get("path")),
                jobs.env_prefix(index),
                ((observed.get("spec") or {}).get("encryptionSecret") or {}).get("name"),
            )
        )
    addon = session.get("addon") or {}
    tasks = addon.get("tasks") or [{}]
    task, function = jobs.resolve_task_function(
        request.related,
        str(addon.get("name") or jobs.DEFAULT_ADDON),
        "backupTasks",
        str(tasks[0].get("name")),
        f"BackupConfiguration {bc['metadata']['name']}: spec.sessions[{session_name}].addon",
    )
    connection = jobs.connection_from_appbinding(appbinding)
    values = {
        **jobs.task_parameter_defaults(task),
        "namespace": request.namespace,
        "zookeeper": connection.hosts,
        "auth": connection.auth,
        "session": session_name,
        "backupSession": request.name,
        "host": target_name,
        **{str(k): jobs.param_text(v) for k, v in (tasks[0].get("params") or {}).items()},
    }
    timeout = (request.parent.get("spec") or {}).get("backupTimeout") or session.get(
        "backupTimeout"
    )
    deadline = int(parse_duration(str(timeout)).total_seconds()) if timeout else None
    delay = retry_delay_seconds(bc, session) if after is not None else 0
    wait_args: list[str] = []
    if delay and after is not None:
        start = attempt_end(after) + timedelta(seconds=delay)
        wait_args = [f"{NOT_BEFORE_OPTION}{rfc3339(start)}"]
        # The executor's wait counts against the Job's deadline: grow it by what it may wait.
        deadline = deadline + delay if deadline else None
    labels = {
        **names.invoker_labels("BackupSession", request.name, request.namespace),
        # The Snapshot controller finds this Job and its Pods by this label.
        names.LABEL_BACKUP_SESSION: request.name,
        names.LABEL_SESSION_NAME: session_name,
        names.LABEL_ATTEMPT: str(attempt),
        names.LABEL_APP_REF_KIND: kind,
        names.LABEL_APP_REF_NAME: target_name,
    }
    job = jobs.executor_job(
        jobs.JobRequest(
            prefix=names.PREFIX_BACKUP,
            owner_name=request.name,
            namespace=request.namespace,
            component=names.COMPONENT_BACKUP,
            labels=labels,
            function=function,
            values=values,
            extra_args=[
                *(["--tls"] if connection.tls else []),
                *(f"--repository={r.spec}" for r in repositories),
                *wait_args,
            ],
            env=[*connection.env, *(e for r in repositories for e in r.env)],
            volumes=[v for r in repositories for v in r.volumes],
            volume_mounts=[m for r in repositories for m in r.volume_mounts],
            pod_template=addon.get("jobTemplate"),
            active_deadline_seconds=deadline,
            hash_extra={"attempt": attempt},
        )
    )
    return job, ""


# ----------------------------------------------------------------------------- status


def _job_secret_uses(
    request: SyncRequest, bc: Mapping[str, Any], session: Mapping[str, Any]
) -> list[SecretUse]:
    """The Secrets the backup Job reads, from the objects that name them (every Repository of
    the session, its BackupStorage, the target's AppBinding); objects gone by now contribute
    nothing (the message then names only the Secret)."""
    uses: list[SecretUse] = []
    for repo in session.get("repositories") or ():
        observed = request.related.get("Repository", STORAGE_API, str(repo.get("name"))) or {}
        storage = request.related.get(
            "BackupStorage", STORAGE_API, *_storage_ref(request, observed)
        )
        uses += [*repository_uses(observed), *storage_uses(storage or {})]
    _, target_ns, target_name = _target(bc)
    appbinding = request.related.get("AppBinding", jobs.APPBINDING_API, target_name, target_ns)
    return uses + appbinding_uses(appbinding or {})


def _executor_condition(
    request: SyncRequest,
    bc: Mapping[str, Any],
    session: Mapping[str, Any],
    latest: Mapping[str, Any],
    latest_state: str,
) -> tuple[bool, str, str]:
    """(status, reason, message) of BackupExecutorEnsured once a Job exists.

    A pod the kubelet cannot configure (most often a Secret named by the Job's env is missing)
    is not a failure: the kubelet starts it once the Secret exists, so the session stays
    Running and this condition says what it waits for.
    """
    name = str(latest["metadata"]["name"])
    finished = latest_state in ("Succeeded", "Failed")
    waits = pod_waits.config_waits(latest, request.related.list("Pod", "v1"))
    if not finished and waits:
        uses = _job_secret_uses(request, bc, session)
        reason, message = waiting_pod(request.namespace, JOB_KIND, name, waits, uses)
        return False, reason, message
    delayed = None if finished else _delayed_start(latest, session)
    return True, "SuccessfullyEnsuredBackupExecutor", delayed or f"Job {name} exists."


def _delayed_start(job: Mapping[str, Any], session: Mapping[str, Any]) -> str | None:
    """What a retry Job that waits for ``retryConfig.delay`` is waiting for, or None.

    Only the time is known (a hook reads no clock), so the sentence holds before and after it.
    """
    when = not_before(job)
    if when is None:
        return None
    delay = (session.get("retryConfig") or {}).get("delay")
    why = f"retryConfig.delay {delay}" if delay else "retryConfig.delay"
    name = (job.get("metadata") or {}).get("name")
    return f"Job {name} starts its attempt {_attempt(job) + 1} at {when} ({why})"


def _snapshot_entries(
    request: SyncRequest,
    session: Mapping[str, Any],
    result: Mapping[str, Any] | None,
    job_state: str,
) -> list[dict[str, Any]]:
    by_repo = {
        str(r.get("name")): r
        for r in (result or {}).get("repositories") or ()
        if isinstance(r, Mapping)
    }
    entries = []
    for repo in session.get("repositories") or ():
        repo_name = str(repo.get("name"))
        name = names.snapshot_name(repo_name, request.name)
        snapshot = request.related.get("Snapshot", STORAGE_API, name)
        # The Snapshot is synced after this session sees the same result, so a finished
        # result outranks the Snapshot's not-yet-terminal phase; otherwise the session would
        # freeze a stale "Running" into its terminal status.
        observed_phase = _phase(snapshot)
        result_phase = str((by_repo.get(repo_name) or {}).get("phase") or "")
        phase = (
            observed_phase
            if observed_phase in ("Succeeded", "Failed")
            else result_phase or observed_phase
        )
        if phase not in ("Pending", "Running", "Succeeded", "Failed"):
            phase = "Running" if job_state == "Running" else "Pending"
        observed_repo = request.related.get("Repository", STORAGE_API, repo_name) or {}
        entry = {"name": name, "phase": phase, "repository": repo_name}
        app_ref = (observed_repo.get("spec") or {}).get("appRef")
        if app_ref:
            entry["appRef"] = dict(app_ref)
        entries.append(entry)
    return entries


def _deadline(job: Mapping[str, Any], timeout: Any) -> str | None:
    start = (job.get("status") or {}).get("startTime")
    if not start or not timeout:
        return None
    begin = datetime.fromisoformat(str(start).replace("Z", "+00:00"))
    seconds = parse_duration(str(timeout)).total_seconds()
    if not_before(job) is not None:
        # A delayed retry's own deadline: backupTimeout grown by the delay it may wait.
        seconds = float((job.get("spec") or {}).get("activeDeadlineSeconds") or seconds)
    end = begin + timedelta(seconds=seconds)
    return end.strftime("%Y-%m-%dT%H:%M:%SZ")


class _Conditions:
    def __init__(self, request: SyncRequest) -> None:
        self.request = request
        self.previous = request.observed_status.get("conditions")
        self.when = conditions.observed_time(
            [request.parent, *request.children.all(), *request.related.list("Pod", "v1")]
        )
        self.items: list[dict[str, Any]] = []

    def add(self, type_: str, ok: bool, reason: str, message: str) -> None:
        self.items.append(
            conditions.condition(
                type_,
                ok,
                reason,
                message,
                observed_generation=self.request.generation,
                previous=self.previous,
                transition_time=self.when,
            )
        )

    def sorted(self) -> list[dict[str, Any]]:
        return conditions.sorted_conditions(self.items)


def _snapshots_seen(request: SyncRequest, entries: list[Any]) -> bool:
    """Whether every Snapshot named in ``status.snapshots[]`` is observed."""
    return all(
        isinstance(entry, Mapping)
        and request.related.get("Snapshot", STORAGE_API, str(entry.get("name"))) is not None
        for entry in entries
    )


def _terminal(request: SyncRequest) -> dict[str, Any]:
    """A finished session: status carried forward, Jobs left as they are.

    One thing still moves: ``SnapshotsEnsured`` turns True once every Snapshot has been seen
    (a Repository may create one after the backup ended) and then stays True, so the
    BackupConfiguration can tell a Snapshot not created yet from one deleted since.
    """
    status = request.observed_status
    previous = status.get("conditions")
    ensured = conditions.find(previous, "SnapshotsEnsured")
    if ensured is None or conditions.is_true(previous, "SnapshotsEnsured"):
        return composite_response(status, observed_as_desired(request.children))
    if not _snapshots_seen(request, list(status.get("snapshots") or ())):
        return composite_response(status, observed_as_desired(request.children))
    found = _Conditions(request)
    found.items = [dict(c) for c in previous or () if isinstance(c, Mapping)]
    found.add(
        "SnapshotsEnsured",
        True,
        "SuccessfullyEnsuredSnapshots",
        "Every repository has this session's Snapshot.",
    )
    return composite_response(
        {**status, "conditions": found.sorted()}, observed_as_desired(request.children)
    )


def _problem_response(
    request: SyncRequest, phase: str, type_: str, ok: bool, reason: str, message: str
) -> dict[str, Any]:
    """A session that cannot run: phase and one condition saying why; Jobs kept as they are."""
    found = _Conditions(request)
    found.add(type_, ok, reason, message)
    status = {**request.observed_status, "phase": phase, "conditions": found.sorted()}
    return composite_response(status, observed_as_desired(request.children))


def sync(request: SyncRequest) -> dict[str, Any]:
    """Desired Jobs and status of one BackupSession."""
    if _phase(request.parent) in TERMINAL:
        return _terminal(request)
    bs = with_defaults(request.parent)
    meta = bs.get("metadata") or {}
    checked = {
        "apiVersion": bs.get("apiVersion"),
        "kind": bs.get("kind"),
        "metadata": {k: meta[k] for k in ("name", "namespace", "labels") if k in meta},
        "spec": bs.get("spec"),
    }
    problems = [str(p) for p in validate(checked)]
    if problems:
        return _problem_response(
            request,
            "Failed",
            "ValidationPassed",
            False,
            "ResourceValidationFailed",
            "; ".join(problems),
        )
    spec = bs.get("spec") or {}
    bc = request.related.get(
        "BackupConfiguration", CORE_API, str((spec.get("invoker") or {}).get("name"))
    )
    observed_jobs = sorted(request.children.list("Job", "batch/v1"), key=_attempt)
    if not observed_jobs:
        reason = skip_reason(request, bc)
        if reason is not None:
            return _problem_response(
                request, "Skipped", "BackupSkipped", True, "PreRequisitesNotSatisfied", reason
            )
    bc = with_defaults(bc) if bc is not None else None
    session = _session_config(bc or {}, str(spec.get("session")))
    if bc is None or session is None:
        return _problem_response(
            request,
            "Failed",
            "BackupExecutorEnsured",
            False,
            "SessionNotFound",
            _invoker_missing(request)
            if bc is None
            else f"session {spec.get('session')!r} not found in its BackupConfiguration",
        )
    return _run(request, bc, session, observed_jobs)


def _run(
    request: SyncRequest,
    bc: Mapping[str, Any],
    session: Mapping[str, Any],
    observed_jobs: list[dict[str, Any]],
) -> dict[str, Any]:
    found = _Conditions(request)
    pods = request.related.list("Pod", "v1")
    children = [as_desired(job) for job in observed_jobs]
    latest = observed_jobs[-1] if observed_jobs else None
    outcome = jobs.job_outcome(latest, pods) if latest else jobs.JobOutcome("Pending", None)
    latest_state = outcome.state
    retry = session.get("retryConfig") or {}
    max_retry = int(retry.get("maxRetry") or 1) if retry else 0
    retried = max(0, len(observed_jobs) - 1)
    phase, waiting = "Running", ""
    created: dict[str, Any] | None = None

    if latest is None or (outcome.state == "Failed" and retried < max_retry):
        attempt = len(observed_jobs)
        try:
            job, waiting = _backup_job(request, bc, session, attempt, after=latest)
        except jobs.JobInputError as problem:
            job, waiting = None, str(problem)
        if job is not None:
            children.append(job)
            created, retried = job, attempt
        # Waiting (repositories not Ready yet, or a retry that cannot be built yet) is Pending
        # before the first Job and Running between attempts.
        phase = "Running" if observed_jobs or job is not None else "Pending"
        outcome = jobs.JobOutcome("Running" if job is not None else outcome.state, None)
    elif outcome.state in ("Succeeded", "Failed"):
        phase = outcome.state
    else:
        phase = "Running"

    if created is not None and not_before(created) is not None:
        # A delayed retry: the sentence is about the Job that waits, not the failed one.
        found.add(
            "BackupExecutorEnsured",
            True,
            "SuccessfullyEnsuredBackupExecutor",
            str(_delayed_start(created, session)),
        )
    elif latest is not None:
        ensured = _executor_condition(request, bc, session, latest, latest_state)
        found.add("BackupExecutorEnsured", *ensured)
    else:
        found.add(
            "BackupExecutorEnsured",
            False,
            "BackupExecutorNotEnsured",
            waiting or "Creating the backup Job.",
        )
    if phase in ("Succeeded", "Failed") and latest is not None:
        error = outcome.message or waiting
        found.add(
            "BackupCompleted",
            phase == "Succeeded",
            "BackupSucceeded" if phase == "Succeeded" else "BackupFailed",
            error if phase == "Failed" else "The backup Job finished.",
        )
    snapshots = _snapshot_entries(request, session, outcome.result, outcome.state)
    snapshots_seen = _snapshots_seen(request, snapshots)
    found.add(
        "SnapshotsEnsured",
        snapshots_seen,
        "SuccessfullyEnsuredSnapshots" if snapshots_seen else "SnapshotsNotEnsured",
        "Every repository has this session's Snapshot."
        if snapshots_seen
        else "Waiting for the Repositories to create this session's Snapshots.",
    )
    status: dict[str, Any] = {
        "phase": phase,
        "totalSnapshots": len(snapshots),
        "snapshots": snapshots,
        "retried": retried > 0,
        "conditions": found.sorted(),
    }
    if latest is not None:
        duration = jobs.job_duration(latest)
        if duration:
            status["duration"] = duration
        timeout = (request.parent.get("spec") or {}).get("backupTimeout") or session.get(
            "backupTimeout"
        )
        deadline = _deadline(latest, timeout)
        if deadline:
            status["backupDeadline"] = deadline
    terminal = phase in TERMINAL
    return composite_response(
        status, children, resync_after_seconds=None if terminal else RESYNC_WAITING_SECONDS
    )
