"""BackupConfiguration → Repositories, trigger CronJobs (+ their ServiceAccount and
RoleBinding), the initial BackupSession, and adopted trigger-made BackupSessions.

Status follows KubeStash (reference §1.5): targetFound, backends[], repositories[],
dependencies[], sessions[] with SchedulerEnsured/InitialBackupTriggered, ValidationPassed,
phase Ready/NotReady/Invalid. A spec that fails validation, or a storage/retention policy the
namespace may not use, makes the phase Invalid and keeps every observed child unchanged.

BackupSessions are pruned to ``sessionHistoryLimit`` by omission, and their Jobs and Pods go
with them. A Snapshot reads its backup result from those Pods, so a finished session is kept
past the limit until every Snapshot of it has a terminal phase (see ``awaits_snapshots``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, lru_cache
from typing import Any

from croniter import croniter

from hooks import conditions, invalid, jobs, names, usage, validity
from hooks.json_values import faithful_json
from hooks.protocol import (
    SyncRequest,
    as_desired,
    composite_response,
    customize_response,
    json_thawer,
    observed_as_desired,
    related_rule,
)
from schemas.defaults import with_defaults
from schemas.validation import validate

CORE_API = "core.kubestash.com/v1alpha1"
CORE_GROUP = "core.kubestash.com"
STORAGE_API = "storage.kubestash.com/v1alpha1"
KIND = "BackupConfiguration"
TRIGGER_CLUSTER_ROLE = "zkstash-trigger"
TERMINAL_SESSION_PHASES = frozenset({"Succeeded", "Failed", "Skipped"})
TERMINAL_SNAPSHOT_PHASES = frozenset({"Succeeded", "Failed"})
RESYNC_NOT_READY_SECONDS = 30


# ----------------------------------------------------------------------------- customize


def customize(request: SyncRequest) -> dict[str, Any]:
    """Related objects: storages and retention policies (all namespaces, for references and
    defaults), the target's AppBinding, our Namespace (usage selectors), the Addons, the
    trigger Function, and the Snapshots of our sessions (pruning waits for them)."""
    # An invalid spec names nothing that can be trusted; sync then only reports the spec.
    spec = {} if invalid.parent_problems(request) else request.parent.get("spec") or {}
    target = spec.get("target") or {}
    addons = {
        str((s.get("addon") or {}).get("name"))
        for s in spec.get("sessions") or ()
        if isinstance(s, Mapping) and (s.get("addon") or {}).get("name")
    }
    rules = [
        related_rule(STORAGE_API, "backupstorages"),
        related_rule(STORAGE_API, "retentionpolicies"),
        related_rule(
            jobs.APPBINDING_API,
            "appbindings",
            namespace=str(target.get("namespace") or request.namespace),
            names=[str(target.get("name") or request.name)],
        ),
        related_rule("v1", "namespaces", names=[request.namespace]),
        related_rule(jobs.ADDON_API, "addons", names=sorted(addons) or [jobs.DEFAULT_ADDON]),
        related_rule(jobs.ADDON_API, "functions", names=[jobs.FUNCTION_TRIGGER]),
        # Our Repositories live in our namespace and label their Snapshots with our name.
        related_rule(
            STORAGE_API,
            "snapshots",
            namespace=request.namespace,
            match_labels={
                names.LABEL_INVOKER_KIND: KIND,
                names.LABEL_INVOKER_NAME: request.name,
            },
        ),
    ]
    return customize_response(rules)


# ----------------------------------------------------------------------------- resolution


@dataclass(frozen=True)
class Backend:
    """One resolved backend: its storage and retention policy as observed."""

    name: str
    storage_ref: dict[str, str]
    retention_ref: dict[str, str]
    storage: dict[str, Any] | None
    retention: dict[str, Any] | None
    storage_missing: str = ""  # why ``storage`` is None: not found, or its spec is wrong
    retention_missing: str = ""


def _ref(ref: Mapping[str, Any] | None, namespace: str) -> dict[str, str]:
    ref = ref or {}
    return {"name": str(ref.get("name") or ""), "namespace": str(ref.get("namespace") or namespace)}


def _namespace_labels(request: SyncRequest) -> dict[str, str]:
    namespace = request.related.get("Namespace", "v1", request.namespace, namespace="")
    return dict(((namespace or {}).get("metadata") or {}).get("labels") or {})


def _with_default_backends(spec: Mapping[str, Any], request: SyncRequest) -> dict[str, Any]:
    """Fill in the default BackupStorage/RetentionPolicy as KubeStash's webhook does.

    ``spec`` is left as it is: the result is new wherever a default goes in and shares the
    rest.
    """
    labels = _namespace_labels(request)
    spec = dict(spec)
    default_policy = usage.default_for(
        request.related.list("RetentionPolicy", STORAGE_API), request.namespace, labels
    )
    if spec.get("backends") in (None, []):
        storage = usage.default_for(
            request.related.list("BackupStorage", STORAGE_API), request.namespace, labels
        )
        if storage is not None:
            spec["backends"] = [{"name": "default", "storageRef": _meta_ref(storage)}]
            if isinstance(spec.get("sessions"), list):
                spec["sessions"] = [_with_default_backend_name(s) for s in spec["sessions"]]
    if default_policy and isinstance(spec.get("backends"), list):
        policy_ref = _meta_ref(default_policy)
        spec["backends"] = [
            {**backend, "retentionPolicy": dict(policy_ref)}
            if isinstance(backend, dict) and not backend.get("retentionPolicy")
            else backend
            for backend in spec["backends"]
        ]
    return spec


def _with_default_backend_name(session: Any) -> Any:
    """The session with ``backend: default`` on each of its repositories that names none.

    Defaulting runs before validation, so anything that is not a mapping or a list where one
    belongs is passed on as it is, for validation to report."""
    if not isinstance(session, dict) or not isinstance(session.get("repositories"), list):
        return session
    repositories = [
        {**repository, "backend": "default"}
        if isinstance(repository, dict) and not repository.get("backend")
        else repository
        for repository in session["repositories"]
    ]
    return {**session, "repositories": repositories}


def _meta_ref(obj: Mapping[str, Any]) -> dict[str, str]:
    meta = obj.get("metadata") or {}
    return {"name": str(meta.get("name")), "namespace": str(meta.get("namespace"))}


def _backends(spec: Mapping[str, Any], request: SyncRequest) -> list[Backend]:
    resolved = []
    for backend in spec.get("backends") or ():
        storage_ref = _ref(backend.get("storageRef"), request.namespace)
        retention_ref = _ref(backend.get("retentionPolicy"), request.namespace)
        storage_key = ("BackupStorage", STORAGE_API, storage_ref["name"], storage_ref["namespace"])
        retention_key = (
            "RetentionPolicy",
            STORAGE_API,
            retention_ref["name"],
            retention_ref["namespace"],
        )
        storage = request.related.get(*storage_key)
        retention = request.related.get(*retention_key)
        resolved.append(
            Backend(
                name=str(backend.get("name")),
                storage_ref=storage_ref,
                retention_ref=retention_ref,
                storage=storage,
                retention=retention,
                storage_missing="" if storage else request.related.missing(*storage_key),
                retention_missing="" if retention else request.related.missing(*retention_key),
            )
        )
    return resolved


def _usage_problems(backends: list[Backend], request: SyncRequest) -> list[str]:
    labels = _namespace_labels(request)
    problems = []
    for index, backend in enumerate(backends):
        for field_name, obj in (
            ("storageRef", backend.storage),
            ("retentionPolicy", backend.retention),
        ):
            if obj is not None and not usage.allows(obj, request.namespace, labels):
                problems.append(
                    f"spec.backends[{index}].{field_name}: {usage.denial(obj, request.namespace)}"
                )
    return problems


def _spec_problems(bc: dict[str, Any]) -> list[str]:
    # Validate what the user wrote; server metadata and our own status are not theirs.
    meta = bc.get("metadata") or {}
    checked = {
        "apiVersion": bc.get("apiVersion"),
        "kind": bc.get("kind"),
        "metadata": {
            k: meta[k] for k in ("name", "namespace", "labels", "annotations") if k in meta
        },
        "spec": bc.get("spec"),
    }
    return list(_problems_of(faithful_json(checked)))


# Validation and defaulting are pure functions of the spec, and a spec changes far less often
# than Metacontroller resyncs; memoising them on their JSON text keeps a sync cheap.
@lru_cache(maxsize=4096)
def _problems_of(checked_json: bytes) -> tuple[str, ...]:
    return tuple(str(problem) for problem in validate(json.loads(checked_json)))


# Kept as a function reading its JSON text (json_thawer): no caller can change the cached value.
@lru_cache(maxsize=4096)
def _defaulted_thawer(parent_json: bytes) -> Callable[[], Any]:
    return json_thawer(json.dumps(with_defaults(json.loads(parent_json))).encode())


def _defaulted(parent: Mapping[str, Any]) -> dict[str, Any]:
    """The parent with KubeStash's webhook defaults (its status left out: not the user's)."""
    user_part = {k: v for k, v in parent.items() if k != "status"}
    return _defaulted_thawer(faithful_json(user_part))()


# ----------------------------------------------------------------------------- children


def _labels(request: SyncRequest) -> dict[str, str]:
    return names.invoker_labels(KIND, request.name, request.namespace)


def _target_ref(spec: Mapping[str, Any], namespace: str) -> dict[str, str]:
    target = spec.get("target") or {}
    ref = {k: str(target[k]) for k in ("apiGroup", "kind") if target.get(k)}
    ref["name"] = str(target.get("name") or "")
    ref["namespace"] = str(target.get("namespace") or namespace)
    return ref


def _repositories(
    spec: Mapping[str, Any], backends: list[Backend], request: SyncRequest
) -> list[dict[str, Any]]:
    by_backend = {b.name: b for b in backends}
    # The same for every Repository: worked out once, each Repository gets its own copy.
    app_ref = _target_ref(spec, request.namespace)
    labels = _labels(request)
    desired: dict[str, dict[str, Any]] = {}
    for session in spec.get("sessions") or ():
        for repository in session.get("repositories") or ():
            backend = by_backend.get(str(repository.get("backend")))
            name = str(repository.get("name"))
            if backend is None or name in desired:
                continue
            repo_spec: dict[str, Any] = {
                "appRef": dict(app_ref),
                "storageRef": dict(backend.storage_ref),
                "path": str(repository.get("directory")),
                "deletionPolicy": str(repository.get("deletionPolicy") or "Delete"),
            }
            if repository.get("encryptionSecret"):
                repo_spec["encryptionSecret"] = _ref(
                    repository["encryptionSecret"], request.namespace
                )
            desired[name] = {
                "apiVersion": STORAGE_API,
                "kind": "Repository",
                "metadata": {
                    "name": name,
                    "namespace": request.namespace,
                    "labels": dict(labels),
                },
                "spec": repo_spec,
            }
    return list(desired.values())


def _trigger_account(request: SyncRequest) -> str:
    return _trigger_account_name(request.name)


def _trigger_account_name(backup_configuration: str) -> str:
    return names.valid_name_with_prefix_n_suffix(names.PREFIX_TRIGGER, backup_configuration, "")


def _trigger_rbac(request: SyncRequest) -> list[dict[str, Any]]:
    """A ServiceAccount whose only right is creating BackupSessions in this namespace."""
    account = _trigger_account(request)
    metadata = {"name": account, "namespace": request.namespace, "labels": _labels(request)}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": dict(metadata)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": dict(metadata),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": TRIGGER_CLUSTER_ROLE,
            },
            "subjects": [
                {"kind": "ServiceAccount", "name": account, "namespace": request.namespace}
            ],
        },
    ]


_JOB_TEMPLATE_FIELDS = (
    "parallelism",
    "completions",
    "activeDeadlineSeconds",
    "backoffLimit",
    "ttlSecondsAfterFinished",
    "completionMode",
    "suspend",
)


def _cronjob(
    session: Mapping[str, Any], function: Mapping[str, Any], paused: bool, request: SyncRequest
) -> dict[str, Any]:
    """The trigger CronJob of one session; a new object on every call."""
    uid = str((request.parent.get("metadata") or {}).get("uid") or "")
    inputs = faithful_json([session, function, paused, request.name, request.namespace, uid])
    return _cronjob_thawer(inputs)()


# Building a CronJob (its executor Job, and the hash that names it) took a third of a sync. It
# is a pure function of these inputs, which change only with the spec or the trigger Function,
# so it is built once per inputs and kept as text (json_thawer): no caller can change the cached
# one, and reading the text takes half the time of copying the objects.
@lru_cache(maxsize=1024)
def _cronjob_thawer(inputs: bytes) -> Callable[[], Any]:
    session, function, paused, name, namespace, uid = json.loads(inputs)
    scheduler = session.get("scheduler") or {}
    job_template = scheduler.get("jobTemplate") or {}
    session_name = str(session.get("name"))
    labels = {**names.invoker_labels(KIND, name, namespace), names.LABEL_SESSION_NAME: session_name}
    pod_template = dict(job_template.get("template") or {})
    pod_template.setdefault("spec", {}).setdefault(
        "serviceAccountName", _trigger_account_name(name)
    )
    # The trigger labels the BackupSession it creates so this controller adopts it
    # (generateSelector matches on controller-uid).
    session_labels = {**labels, "controller-uid": uid}
    job = jobs.executor_job(
        jobs.JobRequest(
            prefix=names.PREFIX_TRIGGER,
            owner_name=name,
            namespace=namespace,
            component=names.COMPONENT_TRIGGER,
            labels=labels,
            function=function,
            values={"namespace": namespace, "backupConfiguration": name, "session": session_name},
            extra_args=[f"--label={k}={v}" for k, v in sorted(session_labels.items())],
            pod_template=pod_template,
            backoff_limit=int(job_template.get("backoffLimit") or 0),
        )
    )
    job_spec = job["spec"]
    for key in _JOB_TEMPLATE_FIELDS:
        if job_template.get(key) is not None:
            job_spec[key] = job_template[key]
    cron_spec: dict[str, Any] = {
        "schedule": str(scheduler.get("schedule")),
        "concurrencyPolicy": str(scheduler.get("concurrencyPolicy") or "Forbid"),
        "suspend": bool(paused or scheduler.get("suspend")),
        "successfulJobsHistoryLimit": int(scheduler.get("successfulJobsHistoryLimit", 3)),
        "failedJobsHistoryLimit": int(scheduler.get("failedJobsHistoryLimit", 1)),
        "jobTemplate": {"metadata": {"labels": labels}, "spec": job_spec},
    }
    if scheduler.get("startingDeadlineSeconds") is not None:
        cron_spec["startingDeadlineSeconds"] = int(scheduler["startingDeadlineSeconds"])
    if scheduler.get("timeZone"):
        cron_spec["timeZone"] = str(scheduler["timeZone"])
    cronjob = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {
            "name": names.trigger_cronjob_name(name, session_name),
            "namespace": namespace,
            "labels": labels,
        },
        "spec": cron_spec,
    }
    return json_thawer(faithful_json(cronjob))


def _trigger_cronjob(
    session: Mapping[str, Any],
    function: Mapping[str, Any] | None,
    paused: bool,
    request: SyncRequest,
) -> tuple[dict[str, Any] | None, str]:
    """(the trigger CronJob, '') or (None, why it cannot be built: the trigger Function is
    missing or unusable)."""
    if function is None:
        return None, request.related.missing(
            "Function", jobs.ADDON_API, jobs.FUNCTION_TRIGGER, namespace=""
        )
    try:
        return _cronjob(session, function, paused, request), ""
    except jobs.JobInputError as error:
        return None, str(error)


def initial_backup_session_name(request: SyncRequest, session_name: str) -> str:
    """``<bc>-<session>-<unix>`` from the BackupConfiguration's creation time (no clock)."""
    created = str((request.parent.get("metadata") or {}).get("creationTimestamp") or "")
    unix = names.unix_seconds(created) if created else 0
    return names.backup_session_name(request.name, session_name, unix)


def _initial_backup_session(session: Mapping[str, Any], request: SyncRequest) -> dict[str, Any]:
    session_name = str(session.get("name"))
    spec: dict[str, Any] = {
        "invoker": {"apiGroup": CORE_GROUP, "kind": KIND, "name": request.name},
        "session": session_name,
    }
    if session.get("retryConfig"):
        spec["retryLeft"] = int((session["retryConfig"] or {}).get("maxRetry") or 1)
    if session.get("backupTimeout"):
        spec["backupTimeout"] = str(session["backupTimeout"])
    return {
        "apiVersion": CORE_API,
        "kind": "BackupSession",
        "metadata": {
            "name": initial_backup_session_name(request, session_name),
            "namespace": request.namespace,
            "labels": {**_labels(request), names.LABEL_SESSION_NAME: session_name},
        },
        "spec": spec,
    }


def _session_order(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("creationTimestamp") or ""), str(meta.get("name") or "")


def _phase(obj: Mapping[str, Any]) -> str:
    return str((obj.get("status") or {}).get("phase") or "")


def awaits_snapshots(
    backup_session: Mapping[str, Any],
    session_snapshots: list[dict[str, Any]],
    repositories: frozenset[str],
) -> bool:
    """Whether pruning this finished BackupSession would strand one of its Snapshots.

    A Snapshot reads the backup result from the session's Job and Pods, which are deleted with
    the session; a Snapshot that is not terminal yet would stay Pending forever. A session
    that never had a Job (Skipped, or refused before one) has no result to read. A Snapshot
    the session expects (``status.snapshots[]``) but that is not there yet is waited for too,
    unless the session has seen all of them (``SnapshotsEnsured``: then a missing one was
    deleted since) or its Repository is gone (no one will create it).
    """
    status = backup_session.get("status") or {}
    session_conditions = status.get("conditions")
    if not conditions.is_true(session_conditions, "BackupExecutorEnsured"):
        return False
    if any(_phase(s) not in TERMINAL_SNAPSHOT_PHASES for s in session_snapshots):
        return True
    if conditions.is_true(session_conditions, "SnapshotsEnsured"):
        return False
    present = {str((s.get("metadata") or {}).get("name")) for s in session_snapshots}
    return any(
        isinstance(entry, Mapping)
        and str(entry.get("name")) not in present
        and str(entry.get("repository")) in repositories
        for entry in status.get("snapshots") or ()
    )


def snapshots_by_session(snapshots: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Snapshots grouped by the BackupSession they record (their backup-session label)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for snapshot in snapshots:
        labels = (snapshot.get("metadata") or {}).get("labels") or {}
        grouped.setdefault(str(labels.get(names.LABEL_BACKUP_SESSION) or ""), []).append(snapshot)
    return grouped


def kept_backup_sessions(
    observed: list[dict[str, Any]],
    history_limits: Mapping[str, int],
    snapshots: list[dict[str, Any]],
    repositories: frozenset[str],
) -> list[dict[str, Any]]:
    """Running sessions, the newest ``sessionHistoryLimit`` finished ones per session, and
    older finished ones whose Snapshots still await their result (``awaits_snapshots``);
    the rest are pruned by leaving them out (their Snapshots live on)."""
    by_session = snapshots_by_session(snapshots)
    kept: list[dict[str, Any]] = []
    finished: dict[str, list[dict[str, Any]]] = {}
    for backup_session in observed:
        phase = _phase(backup_session)
        session_name = str((backup_session.get("spec") or {}).get("session") or "")
        if phase in TERMINAL_SESSION_PHASES:
            finished.setdefault(session_name, []).append(backup_session)
        else:
            kept.append(backup_session)
    for session_name, done in finished.items():
        limit = history_limits.get(session_name, 0)
        ordered = sorted(done, key=_session_order)
        newest = ordered[-limit:] if limit > 0 else []
        older = ordered[: len(ordered) - len(newest)]
        kept += newest
        kept += [
            s
            for s in older
            if awaits_snapshots(s, by_session.get(str(s["metadata"]["name"]), []), repositories)
        ]
    return sorted(kept, key=_session_order)


# ----------------------------------------------------------------------------- status


class _Status:
    """Collects conditions with a shared generation, previous status and transition time."""

    def __init__(self, request: SyncRequest) -> None:
        self.request = request
        self.previous = request.observed_status

    @cached_property
    def when(self) -> str:
        """The transition time of a changed condition; a settled sync changes none."""
        return conditions.observed_time([self.request.parent, *self.request.children.all()])

    def condition(
        self, type_: str, ok: bool, reason: str, message: str, previous: Any
    ) -> dict[str, Any]:
        return conditions.condition(
            type_,
            ok,
            reason,
            message,
            observed_generation=self.request.generation,
            previous=previous,
            transition_time=lambda: self.when,
        )

    def previous_session_conditions(self, session_name: str) -> list[dict[str, Any]]:
        for entry in self.previous.get("sessions") or ():
            # type() first: the abc check takes seven times as long (decoded JSON is dicts).
            is_mapping = type(entry) is dict or isinstance(entry, Mapping)
            if is_mapping and entry.get("name") == session_name:
                return list(entry.get("conditions") or ())
        return []


def _validation_condition(status: _Status, problems: list[str]) -> dict[str, Any]:
    if problems:
        return status.condition(
            "ValidationPassed",
            False,
            "ResourceValidationFailed",
            "; ".join(problems),
            status.previous.get("conditions"),
        )
    return status.condition(
        "ValidationPassed",
        True,
        "ResourceValidationPassed",
        "The BackupConfiguration is valid.",
        status.previous.get("conditions"),
    )


def _invalid(request: SyncRequest, problems: list[str]) -> dict[str, Any]:
    """Phase Invalid with the problems named; every observed child is kept as it is."""
    status = _Status(request)
    previous = {k: v for k, v in status.previous.items() if k not in ("phase", "conditions")}
    body = {
        **previous,
        "phase": "Invalid",
        "conditions": conditions.sorted_conditions([_validation_condition(status, problems)]),
    }
    return composite_response(body, observed_as_desired(request.children))


def _backend_status(backend: Backend) -> tuple[dict[str, Any], bool]:
    storage_phase = str(((backend.storage or {}).get("status") or {}).get("phase") or "")
    if backend.storage is None:
        storage_reason = backend.storage_missing
    elif storage_phase != "Ready":
        storage_reason = "BackupStorage is not Ready yet"
    else:
        storage_reason = ""
    retention_found = backend.retention is not None
    entry = {
        "name": backend.name,
        "ready": backend.storage is not None and storage_phase == "Ready" and retention_found,
        "storage": {"ref": backend.storage_ref, "phase": storage_phase or "NotReady"},
        "retentionPolicy": {"ref": backend.retention_ref, "found": retention_found},
    }
    if storage_reason:
        entry["storage"]["reason"] = storage_reason
    if not retention_found:
        entry["retentionPolicy"]["reason"] = backend.retention_missing
    return entry, bool(entry["ready"])


def _next_schedule(cronjob: Mapping[str, Any] | None, schedule: str) -> str | None:
    last = ((cronjob or {}).get("status") or {}).get("lastScheduleTime")
    if not last:
        return None
    start = datetime.fromisoformat(str(last).replace("Z", "+00:00"))
    following = croniter(schedule, start).get_next(datetime)
    return following.strftime("%Y-%m-%dT%H:%M:%SZ")


# ----------------------------------------------------------------------------- sync


def sync(request: SyncRequest) -> dict[str, Any]:
    """Desired children and status of one BackupConfiguration."""
    # The user's spec first: a default backend filled in below must not hide a wrong one.
    found = invalid.parent_problems(request)
    if found:
        return _invalid(request, [validity.summary(found)])
    bc = _defaulted(request.parent)
    spec = _with_default_backends(dict(bc.get("spec") or {}), request)
    bc["spec"] = spec
    problems = _spec_problems(bc)
    if problems:
        return _invalid(request, problems)
    backends = _backends(spec, request)
    problems = _usage_problems(backends, request)
    if problems:
        return _invalid(request, problems)

    status = _Status(request)
    target = _target_ref(spec, request.namespace)
    appbinding = request.related.get(
        "AppBinding", jobs.APPBINDING_API, target["name"], target["namespace"]
    )
    backend_entries, backends_ready = [], True
    for backend in backends:
        entry, ready = _backend_status(backend)
        backend_entries.append(entry)
        backends_ready = backends_ready and ready

    sessions = [s for s in spec.get("sessions") or () if type(s) is dict or isinstance(s, Mapping)]
    addon_names = sorted({str((s.get("addon") or {}).get("name")) for s in sessions})
    dependencies = [
        {
            "apiGroup": "addons.kubestash.com",
            "kind": "Addon",
            "name": name,
            "found": jobs.find_addon(request.related, name) is not None,
        }
        for name in addon_names
    ]
    trigger_function = jobs.find_function(request.related, jobs.FUNCTION_TRIGGER)
    paused = bool(spec.get("paused"))

    repositories = _repositories(spec, backends, request)
    children: list[dict[str, Any]] = list(repositories)
    children += _trigger_rbac(request) if sessions else []
    cronjobs_ready = True
    session_entries = []
    scheduler_conditions: dict[str, dict[str, Any]] = {}
    for session in sessions:
        session_name = str(session.get("name"))
        previous = status.previous_session_conditions(session_name)
        cron_name = names.trigger_cronjob_name(request.name, session_name)
        observed_cron = request.children.get("CronJob", "batch/v1", cron_name)
        cronjob, unbuildable = _trigger_cronjob(session, trigger_function, paused, request)
        if cronjob is not None:
            children.append(cronjob)
        elif observed_cron is not None:
            children.append(as_desired(observed_cron))
        ensured = observed_cron is not None
        cronjobs_ready = cronjobs_ready and ensured
        if ensured:
            reason, message = "SchedulerEnsured", f"CronJob {cron_name} exists."
        elif unbuildable:
            reason, message = "SchedulerNotEnsured", f"{unbuildable}."
        else:
            reason, message = "SchedulerNotEnsured", f"Waiting for CronJob {cron_name}."
        scheduler_conditions[session_name] = status.condition(
            "SchedulerEnsured", ensured, reason, message, previous
        )
        entry: dict[str, Any] = {"name": session_name}
        next_run = _next_schedule(
            observed_cron, str((session.get("scheduler") or {}).get("schedule"))
        )
        if next_run and not paused:
            entry["nextSchedule"] = next_run
        session_entries.append(entry)

    target_found = appbinding is not None
    ready = (
        target_found and backends_ready and cronjobs_ready and all(d["found"] for d in dependencies)
    )

    # BackupSessions: adopted/observed ones by history, plus the initial one once Ready.
    history = {str(s.get("name")): int(s.get("sessionHistoryLimit", 1)) for s in sessions}
    observed_sessions = request.children.list("BackupSession", CORE_API)
    kept = kept_backup_sessions(
        observed_sessions,
        history,
        request.related.list("Snapshot", STORAGE_API),
        frozenset(
            str(r["metadata"]["name"]) for r in request.children.list("Repository", STORAGE_API)
        ),
    )
    kept_names = {str(s["metadata"]["name"]) for s in kept}
    children += [as_desired(s) for s in kept]
    for session, entry in zip(sessions, session_entries, strict=True):
        session_name = entry["name"]
        previous = status.previous_session_conditions(session_name)
        already = conditions.is_true(previous, "InitialBackupTriggered")
        initial = _initial_backup_session(session, request)
        triggered = already
        if not already and ready and not paused:
            if initial["metadata"]["name"] not in kept_names:
                children.append(initial)
            triggered = True
        entry["conditions"] = conditions.sorted_conditions(
            [
                scheduler_conditions[session_name],
                status.condition(
                    "InitialBackupTriggered",
                    triggered,
                    "SuccessfullyTriggeredInitialBackup"
                    if triggered
                    else "FailedToTriggerInitialBackup",
                    f"BackupSession {initial['metadata']['name']}"
                    + (
                        " created."
                        if triggered
                        else " waits until the BackupConfiguration is Ready."
                    ),
                    previous,
                ),
            ]
        )

    repository_entries = []
    for repository in repositories:
        repo_name = repository["metadata"]["name"]
        observed_repo = request.children.get("Repository", STORAGE_API, repo_name)
        phase = str(((observed_repo or {}).get("status") or {}).get("phase") or "NotReady")
        repo_entry = {"name": repo_name, "phase": phase}
        if observed_repo is None:
            repo_entry["reason"] = "Repository not created yet"
        repository_entries.append(repo_entry)

    body = {
        "phase": "Ready" if ready else "NotReady",
        "targetFound": target_found,
        "backends": backend_entries,
        "repositories": repository_entries,
        "dependencies": dependencies,
        "sessions": session_entries,
        "conditions": conditions.sorted_conditions([_validation_condition(status, [])]),
    }
    return composite_response(
        body, children, resync_after_seconds=None if ready else RESYNC_NOT_READY_SECONDS
    )
