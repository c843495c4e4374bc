"""Snapshot controller: status from the backup pod's result; forgets its restic data on WipeOut.

Parent: Snapshot (storage.kubestash.com/v1alpha1). Child: the cleanup Job (finalize only).
Related: the backup Job and its Pods (label ``kubestash.com/backup-session=<session>``), the
BackupSession itself (by name), the Repository, every BackupStorage (the Repository names which
one), and the zookeeper-addon Addon and Functions (the cleanup Job's image).

The status is read from the executor's BackupResult in the backup pod's termination message.
BackupSessions (and with them their Jobs and Pods) are pruned to ``sessionHistoryLimit``; a
Snapshot outlives them, so a terminal result is carried forward from the Snapshot's own status
once the pod is gone.

A Repository creates the Snapshot as soon as it sees the BackupSession, which may then end
without ever running a backup Job. Without a Job there is no result to wait for, so the
Snapshot fails (``BackupIncomplete``) once its BackupSession has Failed without a Job, or is
gone and no Job was ever seen. (A Skipped session's Snapshot is not wanted at all: the
Repository stops desiring it.)

A BackupSession with ``retryConfig`` follows a failed attempt's Job with a new one (label
``kubestash.com/attempt``). While the observed session has not finished, a failed attempt only
keeps the Snapshot Running (``BackupIncomplete`` Unknown, naming the attempt); the Snapshot
follows the newest Job, and takes a failed result once the session has Failed. Without an
observed session (gone, unreadable, or not related at all) a failed Job is final, so nothing
waits for a retry that cannot come.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hooks import conditions, invalid, jobs, names
from hooks.jobs import JobInputError
from hooks.protocol import (
    SyncRequest,
    as_desired,
    composite_response,
    customize_response,
    group_key,
    related_rule,
)

STORAGE_API = "storage.kubestash.com/v1alpha1"
CORE_API = "core.kubestash.com/v1alpha1"
BATCH_API = "batch/v1"
COMPONENT = "dump"
TERMINAL_PHASES = ("Succeeded", "Failed")
PHASES = ("Pending", "Running", *TERMINAL_PHASES)

CONDITION_BACKUP_INCOMPLETE = "BackupIncomplete"
REASON_EXECUTOR_TERMINATED = "BackupExecutorTerminatedBeforeCompletion"
REASON_SESSION_FAILED = "BackupSessionFailedWithoutBackupJob"
REASON_SESSION_GONE = "BackupSessionNotFound"
REASON_ATTEMPT_FAILED = "BackupAttemptFailed"
SESSION_TERMINAL_PHASES = ("Succeeded", "Failed", "Skipped")
CONDITION_CLEANUP = "SnapshotDataForgotten"


# --- reading the executor's result --------------------------------------------------------


def format_size(size: int) -> str:
    """KubeStash's size strings: ``806 B``, ``1.265 KiB``, ``12.222 MiB``."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
    value = float(size)
    for unit in units:
        if value < 1024 or unit == units[-1]:
            if unit == "B":
                return f"{int(value)} B"
            return f"{value:.3f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _repository_entry(result: Mapping[str, Any], repository: str) -> dict[str, Any] | None:
    for entry in result.get("repositories") or []:
        if isinstance(entry, Mapping) and entry.get("name") == repository:
            return dict(entry)
    return None


def component_from_result(
    result: Mapping[str, Any], repository: str, session: str
) -> dict[str, Any]:
    """The ``dump`` component of a Snapshot from the executor's BackupResult."""
    entry = _repository_entry(result, repository)
    phase = str((entry or result).get("phase") or "Failed")
    if entry is None:
        phase = "Failed"
    entry_error = str((entry or {}).get("error") or "")
    overall_error = str(result.get("error") or "")
    error = entry_error or overall_error
    if entry_error and overall_error and overall_error not in entry_error:
        # A repository's own error may only say the upload was aborted; the result's error
        # says why (for example a dump root that does not exist).
        error = f"{entry_error}: {overall_error}"
    if entry is None and not error:
        error = f"the backup result has no entry for repository {repository!r}"
    stream = result.get("stream") or {}
    stream_bytes = int(stream.get("bytes") or 0)
    component: dict[str, Any] = {
        "path": f"repository/v1/{session}/{COMPONENT}",
        "phase": phase if phase in TERMINAL_PHASES else "Failed",
        "driver": "Restic",
        "integrity": phase == "Succeeded",
        "size": format_size(stream_bytes),
    }
    if result.get("durationSeconds") is not None:
        component["duration"] = jobs.go_duration(float(result["durationSeconds"]))
    if error:
        component["error"] = error
    snapshot_id = (entry or {}).get("snapshotId")
    if snapshot_id:
        component["resticStats"] = [
            {
                "summary": {
                    "id": str(snapshot_id),
                    "uploaded": format_size(int(entry.get("bytesAdded") or 0)),
                    "hostPath": COMPONENT,
                    "size": format_size(stream_bytes),
                    "startTime": str(result.get("startTime") or ""),
                    "endTime": str(result.get("endTime") or ""),
                }
            }
        ]
    return component


def restic_snapshot_id(status: Mapping[str, Any]) -> str | None:
    """The restic snapshot id a Snapshot's status records for its dump, if any."""
    component = ((status.get("components") or {}).get(COMPONENT)) or {}
    for stats in component.get("resticStats") or []:
        snapshot_id = ((stats or {}).get("summary") or {}).get("id")
        if snapshot_id:
            return str(snapshot_id)
    return None


# --- phase ---------------------------------------------------------------------------------


def snapshot_phase(components: Mapping[str, Any], snapshot_conditions: list[dict]) -> str:
    """Reference §1.3: Failed on BackupIncomplete, Pending without components, else aggregate."""
    if conditions.is_true(snapshot_conditions, CONDITION_BACKUP_INCOMPLETE):
        return "Failed"
    if not components:
        return "Pending"
    phases = [str((c or {}).get("phase") or "") for c in components.values()]
    if all(p == "Succeeded" for p in phases):
        return "Succeeded"
    if any(p == "Failed" for p in phases):
        return "Failed"
    return "Running"


# --- customize -----------------------------------------------------------------------------


def customize(request: SyncRequest) -> dict[str, Any]:
    """Related objects: the session's backup Job/Pods, the Repository, storages, the catalog."""
    # An invalid spec names nothing that can be trusted; sync then only reports the spec.
    spec = {} if invalid.parent_problems(request) else request.parent.get("spec") or {}
    backup_session = str(spec.get("backupSession") or "")
    session_label = {names.LABEL_BACKUP_SESSION: backup_session}
    return customize_response(
        [
            related_rule(
                BATCH_API, "jobs", namespace=request.namespace, match_labels=session_label
            ),
            # Whether the session ended without ever running a backup Job.
            related_rule(
                CORE_API, "backupsessions", namespace=request.namespace, names=[backup_session]
            ),
            related_rule("v1", "pods", namespace=request.namespace, match_labels=session_label),
            # The cleanup Job's pods carry the result of the forget.
            related_rule(
                "v1",
                "pods",
                namespace=request.namespace,
                match_labels={
                    names.LABEL_INVOKER_KIND: "Snapshot",
                    names.LABEL_INVOKER_NAME: request.name,
                },
            ),
            related_rule(
                STORAGE_API,
                "repositories",
                namespace=request.namespace,
                names=[str(spec.get("repository") or "")],
            ),
            # The Repository names the storage, which customize cannot see; storages are few.
            related_rule(STORAGE_API, "backupstorages"),
            related_rule(jobs.ADDON_API, "addons", names=[jobs.DEFAULT_ADDON]),
            related_rule(jobs.ADDON_API, "functions", names=[jobs.FUNCTION_FORGET]),
        ]
    )


# --- status --------------------------------------------------------------------------------


def job_attempt(job: Mapping[str, Any]) -> int:
    """A backup Job's attempt number (label ``kubestash.com/attempt``; 0 when absent or odd)."""
    value = str(((job.get("metadata") or {}).get("labels") or {}).get(names.LABEL_ATTEMPT, "0"))
    return int(value) if value.isdigit() else 0


def _newest(objects: list[dict[str, Any]]) -> dict[str, Any] | None:
    def order(obj: Mapping[str, Any]) -> tuple[str, int, str]:
        metadata = obj.get("metadata") or {}
        # creationTimestamp has whole seconds: a retry made in the failed attempt's second
        # must still win, and Job names end in a hash, so the attempt decides before the name.
        return (
            str(metadata.get("creationTimestamp") or ""),
            job_attempt(obj),
            str(metadata.get("name") or ""),
        )

    return max(objects, key=order) if objects else None


def backup_job(request: SyncRequest) -> dict[str, Any] | None:
    """The newest backup Job of this Snapshot's BackupSession among related objects."""
    session = str((request.parent.get("spec") or {}).get("backupSession") or "")
    candidates = [
        job
        for job in request.related.list("Job", BATCH_API)
        if ((job.get("metadata") or {}).get("labels") or {}).get(names.LABEL_BACKUP_SESSION)
        == session
    ]
    return _newest(candidates)


def _incomplete_condition(
    request: SyncRequest,
    status: bool | str,
    reason: str,
    message: str,
    when: str | Callable[[], str],
) -> dict[str, Any]:
    """The Snapshot's BackupIncomplete condition."""
    return conditions.condition(
        CONDITION_BACKUP_INCOMPLETE,
        status,
        reason,
        message,
        observed_generation=request.generation,
        previous=request.observed_status.get("conditions"),
        transition_time=when,
    )


def _session_failure(session: Mapping[str, Any]) -> str:
    """Why a BackupSession failed: the messages of its False conditions, in type order."""
    found = (session.get("status") or {}).get("conditions") or ()
    messages = [
        str(c.get("message") or c.get("reason") or c.get("type"))
        for c in conditions.sorted_conditions(c for c in found if isinstance(c, Mapping))
        if c.get("status") == conditions.FALSE
    ]
    return "; ".join(messages)


def never_ran(request: SyncRequest, job_seen: bool) -> tuple[str, str] | None:
    """(reason, message) when no backup result can come any more for this Snapshot: its
    BackupSession failed without a backup Job, or is gone before its result was seen; None
    while a result may still come (the session is Pending or Running, or not related at all).

    ``job_seen``: a backup Job of the session was observed on an earlier sync."""
    name = str((request.parent.get("spec") or {}).get("backupSession") or "")
    where = f"BackupSession {name}"
    rejected = request.related.rejection("BackupSession", CORE_API, name, request.namespace)
    if rejected is not None:
        # Its controller fails a session it cannot read in the same words, before any Job.
        return (
            None
            if job_seen
            else (REASON_SESSION_FAILED, f"{where} can never run a backup Job: {rejected}")
        )
    session = request.related.get("BackupSession", CORE_API, name, request.namespace)
    if session is None:
        if group_key("BackupSession", CORE_API) not in request.related.groups:
            # Not asked for (a customize response cached from before the session was related):
            # absence says nothing.
            return None
        if job_seen:
            return (
                REASON_SESSION_GONE,
                f"{where} no longer exists and the result of its backup Job was never observed",
            )
        return REASON_SESSION_GONE, f"{where} no longer exists and never ran a backup Job"
    status = session.get("status") or {}
    if (
        job_seen
        or status.get("phase") != "Failed"
        # A session that ran a Job keeps it; its Job's result is what counts.
        or conditions.is_true(status.get("conditions"), "BackupExecutorEnsured")
    ):
        return None
    why = _session_failure(session)
    message = f"{where} failed without running a backup Job"
    return REASON_SESSION_FAILED, f"{message}: {why}" if why else message


def session_may_retry(request: SyncRequest) -> bool:
    """Whether this Snapshot's BackupSession is observed and has not finished, so it may still
    follow a failed attempt with another. A session not related, gone or unreadable cannot be
    waited for: the failed attempt is then final."""
    name = str((request.parent.get("spec") or {}).get("backupSession") or "")
    session = request.related.get("BackupSession", CORE_API, name, request.namespace)
    if session is None:
        return False
    return str((session.get("status") or {}).get("phase") or "") not in SESSION_TERMINAL_PHASES


def running_component(session: str) -> dict[str, Any]:
    """The ``dump`` component while a backup attempt runs or another may follow."""
    return {"path": f"repository/v1/{session}/{COMPONENT}", "phase": "Running", "driver": "Restic"}


def _attempt_failed_status(
    request: SyncRequest, job: Mapping[str, Any], result: Mapping[str, Any], when: str
) -> dict[str, Any]:
    """Running: the newest attempt failed, but its BackupSession may still retry it."""
    spec = request.parent.get("spec") or {}
    session = str(spec.get("session") or "")
    failed = component_from_result(result, str(spec.get("repository") or ""), session)
    error = str(failed.get("error") or result.get("error") or "no error given")
    # Attempts are counted from 1 in sentences, as the BackupSession counts them.
    message = (
        f"Job {(job.get('metadata') or {}).get('name')} (attempt {job_attempt(job) + 1}) "
        f"failed: {error}; BackupSession {spec.get('backupSession')} may retry it"
    )
    condition = _incomplete_condition(
        request, conditions.UNKNOWN, REASON_ATTEMPT_FAILED, message, when
    )
    components = {COMPONENT: running_component(session)}
    return {
        "phase": snapshot_phase(components, [condition]),
        "components": components,
        "totalComponents": len(components),
        "conditions": [condition],
    }


def _never_ran_status(
    request: SyncRequest, reason: str, message: str, components: dict[str, Any]
) -> dict[str, Any]:
    name = str((request.parent.get("spec") or {}).get("backupSession") or "")
    session = request.related.get("BackupSession", CORE_API, name, request.namespace)
    # The session's own times say when it ended; without it, the Snapshot's.
    condition = _incomplete_condition(
        request, True, reason, message, lambda: conditions.observed_time([request.parent, session])
    )
    # A component left Running by a Job that is gone ended without a result.
    components = {
        key: component
        if component.get("phase") in TERMINAL_PHASES
        else {**component, "phase": "Failed", "error": message}
        for key, component in components.items()
    }
    status: dict[str, Any] = {"phase": snapshot_phase(components, [condition])}
    if components:
        status["components"] = components
        status["totalComponents"] = len(components)
    status["conditions"] = [condition]
    return status


def observed_status(request: SyncRequest) -> dict[str, Any]:
    """The Snapshot's status from its newest backup Job's result, or carried forward when
    terminal; Running while a failed attempt may still be retried by its BackupSession; Failed
    when its BackupSession ended without a backup result it could read."""
    previous = request.observed_status
    if previous.get("phase") in TERMINAL_PHASES:
        # Terminal results are final; the Job and Pods that produced them may be pruned.
        return {k: v for k, v in previous.items() if k != "observedGeneration"}
    spec = request.parent.get("spec") or {}
    repository = str(spec.get("repository") or "")
    session = str(spec.get("session") or "")
    job = backup_job(request)
    components: dict[str, Any] = {}
    snapshot_conditions: list[dict[str, Any]] = []
    status: dict[str, Any] = {}
    if job is None:
        # A Job seen running and gone since keeps its last component, so the Snapshot never
        # falls back to Pending and later syncs still know a Job ran.
        components = {
            k: dict(v)
            for k, v in (previous.get("components") or {}).items()
            if isinstance(v, Mapping)
        }
        ended = never_ran(request, job_seen=bool(components))
        if ended is not None:
            return _never_ran_status(request, *ended, components)
    else:
        outcome = jobs.job_outcome(job, request.related.list("Pod", "v1"))
        when = conditions.observed_time([job])
        if outcome.state == "Failed" and outcome.result is not None and session_may_retry(request):
            return _attempt_failed_status(request, job, outcome.result, when)
        if outcome.state in TERMINAL_PHASES and outcome.result is not None:
            result = outcome.result
            component = component_from_result(result, repository, session)
            components[COMPONENT] = component
            # A result without per-repository entries means the executor never finished.
            incomplete = "repositories" not in result
            snapshot_conditions.append(
                _incomplete_condition(
                    request,
                    incomplete,
                    REASON_EXECUTOR_TERMINATED if incomplete else "BackupExecutorCompleted",
                    str(result.get("error") or "") if incomplete else "the backup finished",
                    when,
                )
            )
            if result.get("startTime"):
                status["snapshotTime"] = str(result["startTime"])
            status["size"] = component["size"]
            status["integrity"] = bool(component["integrity"])
        elif outcome.state == "Running" or job_attempt(job) > 0:
            # A retry not started yet follows an attempt that ran: the backup is under way.
            components[COMPONENT] = running_component(session)
    status["phase"] = snapshot_phase(components, snapshot_conditions)
    if components:
        status["components"] = components
        status["totalComponents"] = len(components)
    if snapshot_conditions:
        status["conditions"] = conditions.sorted_conditions(snapshot_conditions)
    return status


# --- cleanup (finalize with WipeOut) -------------------------------------------------------


def cleanup_job(request: SyncRequest, snapshot_id: str) -> dict[str, Any]:
    """The Job that forgets this Snapshot's restic snapshot; JobInputError names what's missing."""
    spec = request.parent.get("spec") or {}
    repository_name = str(spec.get("repository") or "")
    where = f"Snapshot {request.namespace}/{request.name}"
    repository = request.related.get(
        "Repository", STORAGE_API, repository_name, namespace=request.namespace
    )
    if repository is None:
        raise JobInputError(
            f"{where}: spec.repository",
            request.related.missing(
                "Repository", STORAGE_API, repository_name, namespace=request.namespace
            ),
        )
    repo_spec = repository.get("spec") or {}
    storage_ref = repo_spec.get("storageRef") or {}
    storage_namespace = str(storage_ref.get("namespace") or request.namespace)
    storage = request.related.get(
        "BackupStorage",
        STORAGE_API,
        str(storage_ref.get("name") or ""),
        namespace=storage_namespace,
    )
    if storage is None:
        raise JobInputError(
            f"Repository {request.namespace}/{repository_name}: spec.storageRef",
            request.related.missing(
                "BackupStorage",
                STORAGE_API,
                str(storage_ref.get("name") or ""),
                namespace=storage_namespace,
            ),
        )
    function = jobs.find_function(request.related, jobs.FUNCTION_FORGET)
    if function is None:
        raise jobs.missing_function(request.related, jobs.FUNCTION_FORGET)
    target = jobs.repository_target(
        repository_name,
        (storage.get("spec") or {}).get("storage") or {},
        str(repo_spec.get("path") or ""),
        jobs.env_prefix(0),
        (repo_spec.get("encryptionSecret") or {}).get("name"),
    )
    session = str(spec.get("session") or "")
    return jobs.executor_job(
        jobs.JobRequest(
            prefix=names.PREFIX_CLEANUP,
            owner_name=request.name,
            namespace=request.namespace,
            component=names.COMPONENT_CLEANER,
            labels=names.invoker_labels("Snapshot", request.name, request.namespace),
            function=function,
            values={
                "namespace": request.namespace,
                "repository": target.spec,
                "session": session,
                "snapshot": snapshot_id,
            },
            env=target.env,
            volumes=target.volumes,
            volume_mounts=target.volume_mounts,
            backoff_limit=2,
        )
    )


def _cleanup_condition(
    request: SyncRequest, status: bool | str, reason: str, message: str, when: str
) -> dict[str, Any]:
    return conditions.condition(
        CONDITION_CLEANUP,
        status,
        reason,
        message,
        observed_generation=request.generation,
        previous=request.observed_status.get("conditions"),
        transition_time=when,
    )


def _with_condition(status: dict[str, Any], condition: dict[str, Any]) -> dict[str, Any]:
    merged = [*(status.get("conditions") or []), condition]
    return {**status, "conditions": conditions.sorted_conditions(merged)}


def _finalize(request: SyncRequest) -> dict[str, Any]:
    """Delete: finalized at once. WipeOut: finalized once the forget Job has Succeeded."""
    status = observed_status(request)
    spec = request.parent.get("spec") or {}
    if spec.get("deletionPolicy") != "WipeOut":
        return composite_response(status, [], finalized=True)
    job = backup_job(request)
    if job is not None and jobs.job_outcome(job, request.related.list("Pod", "v1")).state in (
        "Pending",
        "Running",
    ):
        # The backup may still add a restic snapshot; wait for it to end before forgetting.
        return composite_response(status, [], finalized=False)
    snapshot_id = restic_snapshot_id(status)
    if snapshot_id is None:
        return composite_response(status, [], finalized=True)
    observed_jobs = request.children.list("Job", BATCH_API)
    when = conditions.observed_time([request.parent, *observed_jobs])
    try:
        desired = cleanup_job(request, snapshot_id)
    except JobInputError as error:
        # Keep waiting rather than leak the data; say exactly what blocks the cleanup.
        condition = _cleanup_condition(request, False, "CleanupBlocked", str(error), when)
        return composite_response(
            _with_condition(status, condition),
            [as_desired(job) for job in observed_jobs],
            finalized=False,
        )
    observed = request.children.get("Job", BATCH_API, desired["metadata"]["name"])
    if observed is None:
        condition = _cleanup_condition(
            request,
            "Unknown",
            "CleanupJobCreated",
            f"forgetting restic snapshot {snapshot_id}",
            when,
        )
        return composite_response(_with_condition(status, condition), [desired], finalized=False)
    outcome = jobs.job_outcome(observed, request.related.list("Pod", "v1"))
    if outcome.state == "Succeeded":
        condition = _cleanup_condition(
            request, True, "CleanupSucceeded", f"restic snapshot {snapshot_id} forgotten", when
        )
        return composite_response(_with_condition(status, condition), [desired], finalized=True)
    if outcome.state == "Failed":
        condition = _cleanup_condition(request, False, "CleanupFailed", outcome.message, when)
    else:
        condition = _cleanup_condition(
            request, "Unknown", "CleanupRunning", f"forgetting restic snapshot {snapshot_id}", when
        )
    return composite_response(_with_condition(status, condition), [desired], finalized=False)


def sync(request: SyncRequest) -> dict[str, Any]:
    """Sync and finalize share this entry point; Metacontroller sets ``finalizing``.

    An invalid spec keeps the phase the backup reached (Pending before any) with a condition
    naming the field; a deletion waits until it is fixed (the spec says whether to forget the
    restic data)."""
    found = invalid.parent_problems(request)
    if found:
        reached = request.observed_status.get("phase")
        return invalid.composite(request, reached if reached in PHASES else "Pending", found)
    if request.finalizing:
        return _finalize(request)
    return composite_response(observed_status(request), [])
