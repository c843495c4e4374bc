"""Repository controller: the init Job, one Snapshot per BackupSession, retention by omission.

Parent: Repository (storage.kubestash.com/v1alpha1). Children: the init Job
(``executor init-repository``) and Snapshots. Related: the BackupStorage (``spec.storageRef``),
the owning BackupConfiguration and its BackupSessions, every RetentionPolicy (the
BackupConfiguration's backend names the one that applies), the catalog, the init Job's pods.

Snapshots outlive BackupSessions (``sessionHistoryLimit`` prunes those): an observed Snapshot
is kept until retention drops it. One exception: a Snapshot created while its BackupSession had
no phase yet, which then was Skipped. A Skipped session has no Snapshot; while it holds no data
it is no longer desired (Metacontroller deletes it; with nothing in restic its finalizer needs
no cleanup Job) and it counts neither in the status nor in retention.

How a dropped Snapshot's restic data is forgotten — mark, then omit:

1. Retention drops a Snapshot whose ``spec.deletionPolicy`` is not yet WipeOut: the Snapshot is
   still returned, now with ``deletionPolicy: WipeOut`` (Snapshot children update InPlace).
2. Once the observed Snapshot says WipeOut, it is omitted; Metacontroller deletes it, and the
   Snapshot's finalize hook runs ``executor forget --snapshot <its restic id>`` and releases
   the object only after that Job Succeeded.

So a dropped Snapshot's data cannot leak (the object, and its finalizer, outlive the forget),
and a kept Snapshot's data cannot be lost (forget names exactly one restic snapshot id, that of
the Snapshot being deleted; unfinished backups are never dropped).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hooks import conditions, invalid, jobs, names, retention, snapshots, usage
from hooks.controllers.snapshot import format_size
from hooks.jobs import JobInputError
from hooks.protocol import (
    SyncRequest,
    as_desired,
    composite_response,
    customize_response,
    related_rule,
)
from schemas.durations import parse_duration

STORAGE_API = "storage.kubestash.com/v1alpha1"
CORE_API = "core.kubestash.com/v1alpha1"
BATCH_API = "batch/v1"
RECENT_SNAPSHOTS = 5

CONDITION_INITIALIZED = "RepositoryInitialized"
CONDITION_RETENTION = "RetentionPolicyApplied"

_SIZE = re.compile(r"^\s*([0-9.]+)\s*(B|KiB|MiB|GiB|TiB|PiB)\s*$")
_SIZE_FACTORS = {
    "B": 1,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
    "TiB": 1024**4,
    "PiB": 1024**5,
}


def parse_size(text: Any) -> int:
    """Bytes of a KubeStash size string (``1.265 KiB``); 0 for anything unreadable."""
    match = _SIZE.match(str(text or ""))
    if not match:
        return 0
    return round(float(match.group(1)) * _SIZE_FACTORS[match.group(2)])


def owner_backup_configuration(repository: Mapping[str, Any]) -> str:
    """Name of the BackupConfiguration that owns this Repository ('' when none)."""
    metadata = repository.get("metadata") or {}
    for owner in metadata.get("ownerReferences") or ():
        if owner.get("kind") == "BackupConfiguration" and owner.get("controller"):
            return str(owner.get("name") or "")
    labels = metadata.get("labels") or {}
    if labels.get(names.LABEL_INVOKER_KIND) == "BackupConfiguration":
        return str(labels.get(names.LABEL_INVOKER_NAME) or "")
    return ""


def _storage_ref(request: SyncRequest) -> tuple[str, str]:
    ref = (request.parent.get("spec") or {}).get("storageRef") or {}
    return str(ref.get("namespace") or request.namespace), str(ref.get("name") or "")


def customize(request: SyncRequest) -> dict[str, Any]:
    """Related: storage, owning BackupConfiguration and its sessions, policies, catalog."""
    # An invalid spec names no storage that can be trusted; sync then only reports the spec.
    storage_namespace, storage_name = (
        (request.namespace, "") if invalid.parent_problems(request) else _storage_ref(request)
    )
    rules = [
        related_rule(
            STORAGE_API, "backupstorages", namespace=storage_namespace, names=[storage_name]
        ),
        related_rule(
            CORE_API,
            "backupconfigurations",
            namespace=request.namespace,
            names=[owner_backup_configuration(request.parent)],
        ),
        related_rule(CORE_API, "backupsessions", namespace=request.namespace),
        # Our Namespace: its labels decide a Selector usagePolicy of the storage.
        related_rule("v1", "namespaces", names=[request.namespace]),
        # The BackupConfiguration names the policy, which customize cannot see.
        related_rule(STORAGE_API, "retentionpolicies"),
        related_rule(jobs.ADDON_API, "addons", names=[jobs.DEFAULT_ADDON]),
        related_rule(jobs.ADDON_API, "functions", names=[jobs.FUNCTION_INIT_REPOSITORY]),
        related_rule(
            "v1",
            "pods",
            namespace=request.namespace,
            match_labels={
                names.LABEL_INVOKER_KIND: "Repository",
                names.LABEL_INVOKER_NAME: request.name,
            },
        ),
    ]
    return customize_response(rules)


# --- what the owning BackupConfiguration says about this repository ------------------------


def sessions_using(backup_configuration: Mapping[str, Any] | None, repository: str) -> list[str]:
    """Names of the BackupConfiguration sessions that back up into ``repository``."""
    found = []
    for session in ((backup_configuration or {}).get("spec") or {}).get("sessions") or ():
        if isinstance(session, Mapping) and repository in snapshots.session_repository_names(
            backup_configuration or {}, str(session.get("name") or "")
        ):
            found.append(str(session["name"]))
    return sorted(set(found))


def retention_policy_ref(
    backup_configuration: Mapping[str, Any] | None, repository: str
) -> tuple[str, str] | None:
    """(namespace, name) of the RetentionPolicy of the backend this repository lives on."""
    bc = backup_configuration or {}
    spec = bc.get("spec") or {}
    bc_namespace = str((bc.get("metadata") or {}).get("namespace") or "")
    backend_name = None
    for session in spec.get("sessions") or ():
        for repo in (session or {}).get("repositories") or ():
            if isinstance(repo, Mapping) and repo.get("name") == repository:
                backend_name = repo.get("backend") or ""
    if backend_name is None:
        return None
    backends = [b for b in spec.get("backends") or () if isinstance(b, Mapping)]
    backend = next((b for b in backends if b.get("name") == backend_name), None)
    if backend is None and not backend_name and len(backends) == 1:
        backend = backends[0]
    ref = (backend or {}).get("retentionPolicy") or {}
    if not ref.get("name"):
        return None
    return str(ref.get("namespace") or bc_namespace), str(ref["name"])


def backup_sessions_for(request: SyncRequest, bc_name: str, sessions: list[str]) -> list[dict]:
    """The owning BackupConfiguration's BackupSessions that back up into this repository."""
    found = []
    for session in request.related.list("BackupSession", CORE_API):
        spec = session.get("spec") or {}
        invoker = spec.get("invoker") or {}
        phase = (session.get("status") or {}).get("phase")
        if (
            invoker.get("name") == bc_name
            and spec.get("session") in sessions
            and phase != "Skipped"
        ):
            found.append(session)
    return found


def unwanted_snapshots(request: SyncRequest) -> set[str]:
    """Observed Snapshots of Skipped BackupSessions that never got data (no components, phase
    Pending): a Skipped session has no Snapshot, so these are not desired any more."""
    skipped = {
        str((session.get("metadata") or {}).get("name") or "")
        for session in request.related.list("BackupSession", CORE_API)
        if (session.get("metadata") or {}).get("namespace") == request.namespace
        and (session.get("status") or {}).get("phase") == "Skipped"
    }
    return {
        str(snapshot["metadata"]["name"])
        for snapshot in request.children.list("Snapshot", STORAGE_API)
        if (snapshot.get("spec") or {}).get("backupSession") in skipped
        and not (snapshot.get("status") or {}).get("components")
        and (snapshot.get("status") or {}).get("phase") in (None, "", "Pending")
    }


# --- retention -----------------------------------------------------------------------------


def _parse_time(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def snapshot_record(
    name: str, observed: Mapping[str, Any] | None, session: Mapping[str, Any] | None
) -> retention.SnapshotRecord | None:
    """Retention's view of a Snapshot; its time comes only from observed objects."""
    status = (observed or {}).get("status") or {}
    candidates = [
        status.get("snapshotTime"),
        ((observed or {}).get("metadata") or {}).get("creationTimestamp"),
        ((session or {}).get("metadata") or {}).get("creationTimestamp"),
    ]
    for text in candidates:
        time = _parse_time(text) if text else None
        if time is not None:
            return retention.SnapshotRecord(name, str(status.get("phase") or "Pending"), time)
    return None


def _retention_rules(
    request: SyncRequest, ref: tuple[str, str] | None
) -> tuple[retention.RetentionRules | None, str]:
    """(rules, why not) for the policy ``ref`` names; rules None keeps every Snapshot."""
    if ref is None:
        return None, "no retention policy is configured for this repository's backend"
    policy = request.related.get("RetentionPolicy", STORAGE_API, ref[1], namespace=ref[0])
    if policy is None:
        return None, request.related.missing("RetentionPolicy", STORAGE_API, ref[1], ref[0])
    try:
        return retention.rules_from_policy(policy.get("spec") or {}, parse_duration), ""
    except retention.RetentionPolicyError as error:
        return None, f"RetentionPolicy {ref[0]}/{ref[1]}: {error}"


def desired_snapshots(
    request: SyncRequest, sessions: list[dict], rules: retention.RetentionRules | None
) -> list[dict[str, Any]]:
    """Snapshot children: one per BackupSession plus every observed one, minus those of
    Skipped sessions without data, minus retention."""
    unwanted = unwanted_snapshots(request)
    observed = {
        name: s
        for s in request.children.list("Snapshot", STORAGE_API)
        if (name := (s.get("metadata") or {}).get("name")) not in unwanted
    }
    wanted: dict[str, dict[str, Any]] = {name: as_desired(obj) for name, obj in observed.items()}
    session_of: dict[str, dict[str, Any]] = {}
    for session in sessions:
        snapshot = snapshots.desired_snapshot(request.parent, session)
        name = snapshot["metadata"]["name"]
        wanted[name] = snapshot
        session_of[name] = session
    if rules is None:
        return [wanted[name] for name in sorted(wanted)]
    records = [
        record
        for name in sorted(wanted)
        if (record := snapshot_record(name, observed.get(name), session_of.get(name))) is not None
    ]
    now = retention.observed_now(records)
    kept = retention.snapshots_to_keep(records, rules, now) if now else frozenset()
    timeless = set(wanted) - {record.name for record in records}
    result = []
    for name in sorted(wanted):
        if name in kept or name in timeless:
            result.append(wanted[name])
            continue
        if ((observed.get(name) or {}).get("spec") or {}).get("deletionPolicy") == "WipeOut":
            continue  # marked on an earlier sync: now let its finalizer forget the data
        marked = dict(wanted[name])
        marked["spec"] = {**(marked.get("spec") or {}), "deletionPolicy": "WipeOut"}
        result.append(marked)
    return result


def dropped_names(request: SyncRequest, children: list[dict[str, Any]]) -> set[str]:
    """Snapshots still returned only to be marked WipeOut before retention omits them."""
    own_policy = (request.parent.get("spec") or {}).get("deletionPolicy")
    return {
        c["metadata"]["name"]
        for c in children
        if c.get("kind") == "Snapshot"
        and own_policy != "WipeOut"
        and (c.get("spec") or {}).get("deletionPolicy") == "WipeOut"
    }


# --- init Job ------------------------------------------------------------------------------


def init_job(request: SyncRequest, sessions: list[str]) -> dict[str, Any]:
    """The ``executor init-repository`` Job; JobInputError names a missing input."""
    spec = request.parent.get("spec") or {}
    storage_namespace, storage_name = _storage_ref(request)
    storage = request.related.get(
        "BackupStorage", STORAGE_API, storage_name, namespace=storage_namespace
    )
    where = f"Repository {request.namespace}/{request.name}"
    if storage is None:
        raise JobInputError(
            f"{where}: spec.storageRef",
            request.related.missing("BackupStorage", STORAGE_API, storage_name, storage_namespace),
        )
    namespace = request.related.get("Namespace", "v1", request.namespace, namespace="") or {}
    labels = (namespace.get("metadata") or {}).get("labels") or {}
    if not usage.allows(storage, request.namespace, labels):
        # A Repository written by hand must not reach a storage its namespace may not use.
        raise JobInputError(f"{where}: spec.storageRef", usage.denial(storage, request.namespace))
    function = jobs.find_function(request.related, jobs.FUNCTION_INIT_REPOSITORY)
    if function is None:
        raise jobs.missing_function(request.related, jobs.FUNCTION_INIT_REPOSITORY)
    target = jobs.repository_target(
        request.name,
        (storage.get("spec") or {}).get("storage") or {},
        str(spec.get("path") or ""),
        jobs.env_prefix(0),
        (spec.get("encryptionSecret") or {}).get("name"),
    )
    session_args = [arg for session in sessions for arg in ("--session", session)]
    return jobs.executor_job(
        jobs.JobRequest(
            prefix=names.PREFIX_INIT,
            owner_name=request.name,
            namespace=request.namespace,
            component=names.COMPONENT_INITIALIZER,
            labels=names.invoker_labels("Repository", request.name, request.namespace),
            function=function,
            values={"namespace": request.namespace, "repository": target.spec},
            extra_args=session_args,
            env=target.env,
            volumes=target.volumes,
            volume_mounts=target.volume_mounts,
            backoff_limit=2,
        )
    )


# --- status --------------------------------------------------------------------------------


def _condition(
    request: SyncRequest, type_: str, status: bool | str, reason: str, message: str, when: str
) -> dict[str, Any]:
    return conditions.condition(
        type_,
        status,
        reason,
        message,
        observed_generation=request.generation,
        previous=request.observed_status.get("conditions"),
        transition_time=when,
    )


def snapshot_summary(request: SyncRequest, kept_names: set[str], sessions: list[str]) -> dict:
    """snapshotCount, size, integrity, recentSnapshots, lastBackupTime, componentPaths."""
    observed = [
        s
        for s in request.children.list("Snapshot", STORAGE_API)
        if (s.get("metadata") or {}).get("name") in kept_names
    ]

    def time_of(snapshot: Mapping[str, Any]) -> str:
        status = snapshot.get("status") or {}
        return str(
            status.get("snapshotTime")
            or (snapshot.get("metadata") or {}).get("creationTimestamp")
            or ""
        )

    newest = sorted(observed, key=lambda s: (time_of(s), s["metadata"]["name"]), reverse=True)
    succeeded = [s for s in newest if (s.get("status") or {}).get("phase") == "Succeeded"]
    paths = {f"repository/v1/{session}/dump" for session in sessions}
    uploaded = 0
    for snapshot in observed:
        for component in ((snapshot.get("status") or {}).get("components") or {}).values():
            if component.get("path"):
                paths.add(str(component["path"]))
            for stats in component.get("resticStats") or ():
                uploaded += parse_size(((stats or {}).get("summary") or {}).get("uploaded"))
    summary: dict[str, Any] = {
        "snapshotCount": len(observed),
        "size": snapshot_size_text(uploaded),
        "componentPaths": sorted(paths),
        "recentSnapshots": [
            {
                key: value
                for key, value in {
                    "name": s["metadata"]["name"],
                    "phase": (s.get("status") or {}).get("phase") or "Pending",
                    "session": (s.get("spec") or {}).get("session") or "",
                    "size": (s.get("status") or {}).get("size"),
                    "snapshotTime": (s.get("status") or {}).get("snapshotTime"),
                }.items()
                if value is not None
            }
            for s in newest[:RECENT_SNAPSHOTS]
        ],
    }
    if succeeded:
        summary["integrity"] = all(
            bool((s.get("status") or {}).get("integrity")) for s in succeeded
        )
        if time_of(succeeded[0]):
            summary["lastBackupTime"] = time_of(succeeded[0])
    return summary


def snapshot_size_text(size: int) -> str:
    """The repository's size: the bytes its kept Snapshots added (restic deduplicates)."""
    return format_size(size)


def sync(request: SyncRequest) -> dict[str, Any]:
    """Desired init Job and Snapshots, and the Repository's status.

    An invalid spec makes the Repository NotReady with a condition naming the field; its init
    Jobs and Snapshots are kept as they are and a deletion waits until the spec is fixed."""
    found = invalid.parent_problems(request)
    if found:
        return invalid.composite(request, "NotReady", found)
    bc_name = owner_backup_configuration(request.parent)
    bc = request.related.get("BackupConfiguration", CORE_API, bc_name, namespace=request.namespace)
    sessions = sessions_using(bc, request.name)
    backup_sessions = backup_sessions_for(request, bc_name, sessions)
    unusable_bc = request.related.rejection(
        "BackupConfiguration", CORE_API, bc_name, namespace=request.namespace
    )
    rules, rules_problem = (
        (None, unusable_bc)
        if unusable_bc is not None
        else _retention_rules(request, retention_policy_ref(bc, request.name))
    )
    children = desired_snapshots(request, backup_sessions, rules)

    observed_jobs = request.children.list("Job", BATCH_API)
    when = conditions.observed_time([request.parent, *observed_jobs])
    status_conditions = []
    try:
        job = init_job(request, sessions)
    except JobInputError as error:
        children += [as_desired(j) for j in observed_jobs]
        status_conditions.append(
            _condition(
                request,
                CONDITION_INITIALIZED,
                False,
                "RepositoryInitializationFailed",
                str(error),
                when,
            )
        )
    else:
        children.append(job)
        # Earlier init Jobs (other inputs) stay until a new one has finished, so a failed
        # re-init never hides a good one.
        observed = request.children.get("Job", BATCH_API, job["metadata"]["name"])
        outcome = (
            jobs.job_outcome(observed, request.related.list("Pod", "v1")) if observed else None
        )
        if outcome is None or outcome.state not in ("Succeeded", "Failed"):
            children += [as_desired(j) for j in observed_jobs if j is not observed]
        if outcome is not None and outcome.state == "Succeeded":
            status_conditions.append(
                _condition(
                    request,
                    CONDITION_INITIALIZED,
                    True,
                    "RepositoryInitializationSucceeded",
                    "restic repository initialized",
                    when,
                )
            )
        elif outcome is not None and outcome.state == "Failed":
            status_conditions.append(
                _condition(
                    request,
                    CONDITION_INITIALIZED,
                    False,
                    "RepositoryInitializationFailed",
                    outcome.message,
                    when,
                )
            )
        else:
            status_conditions.append(
                _condition(
                    request,
                    CONDITION_INITIALIZED,
                    "Unknown",
                    "RepositoryInitializationRunning",
                    f"init Job {job['metadata']['name']} has not finished",
                    when,
                )
            )
    status_conditions.append(
        _condition(
            request,
            CONDITION_RETENTION,
            rules is not None,
            "RetentionPolicyFound" if rules is not None else "RetentionPolicyNotApplied",
            "retention applied" if rules is not None else rules_problem,
            when,
        )
    )
    kept = {c["metadata"]["name"] for c in children if c.get("kind") == "Snapshot"}
    kept -= dropped_names(request, children)
    status = {
        "phase": "Ready"
        if conditions.is_true(status_conditions, CONDITION_INITIALIZED)
        else "NotReady",
        **snapshot_summary(request, kept, sessions),
        "conditions": conditions.sorted_conditions(status_conditions),
    }
    if request.finalizing:
        return _finalize(request, status, children)
    return composite_response(status, _unique(children))


def _finalize(
    request: SyncRequest, status: dict[str, Any], children: list[dict[str, Any]]
) -> dict[str, Any]:
    """Delete the Snapshots first, while this Repository still exists for their finalizers
    (a WipeOut Snapshot needs the Repository and its storage to forget its data); finalized
    once none is observed."""
    jobs_only = [child for child in children if child.get("kind") != "Snapshot"]
    remaining = request.children.list("Snapshot", STORAGE_API)
    return composite_response(status, _unique(jobs_only), finalized=not remaining)


def _unique(children: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_key = {}
    for child in children:
        by_key.setdefault((child["kind"], child["metadata"]["name"]), child)
    return list(by_key.values())
