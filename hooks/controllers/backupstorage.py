"""BackupStorage controller: the backend init Job, readiness, the repositories that use it.

Parent: BackupStorage (storage.kubestash.com/v1alpha1). Children: the init Job
(``executor init-storage``, writes ``<prefix>/metadata.yaml``) and, when deleted with
``deletionPolicy: WipeOut``, the wipe Job (``executor wipe-storage``) that removes the backend
subtree. Related: the credentials Secret (only its existence is used — its data is never read),
every Repository (those whose ``storageRef`` points here are listed), the catalog, the Jobs'
pods.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hooks import conditions, invalid, jobs, names
from hooks.controllers.repository import parse_size
from hooks.controllers.snapshot import format_size
from hooks.jobs import JobInputError
from hooks.json_values import canonical_json
from hooks.protocol import (
    SyncRequest,
    as_desired,
    composite_response,
    customize_response,
    related_rule,
)

STORAGE_API = "storage.kubestash.com/v1alpha1"
BATCH_API = "batch/v1"
# The wipe Job's Function: `executor wipe-storage --storage JSON [--env-prefix P]`.
FUNCTION_WIPE_STORAGE = "zookeeper-wipe-storage"
PREFIX_WIPE = "wipe"

CONDITION_INITIALIZED = "BackendInitialized"
CONDITION_SECRET = "BackendSecretFound"
CONDITION_WIPED = "BackendDataWipedOut"


def secret_name(storage: Mapping[str, Any]) -> str:
    """The credentials Secret the backend names ('' for credential-less and local backends)."""
    backend_spec = (storage.get("spec") or {}).get("storage") or {}
    backend = backend_spec.get(str(backend_spec.get("provider") or "")) or {}
    return str(backend.get("secretName") or backend.get("secret") or "")


def customize(request: SyncRequest) -> dict[str, Any]:
    """Related: the credentials Secret by name, all Repositories, the catalog, Job pods."""
    rules = []
    # An invalid spec names no Secret that can be trusted; sync then only reports the spec.
    secret = "" if invalid.parent_problems(request) else secret_name(request.parent)
    if secret:
        rules.append(related_rule("v1", "secrets", namespace=request.namespace, names=[secret]))
    rules += [
        # Repositories in any namespace may use this storage (usagePolicy All/Selector).
        related_rule(STORAGE_API, "repositories"),
        related_rule(jobs.ADDON_API, "addons", names=[jobs.DEFAULT_ADDON]),
        related_rule(
            jobs.ADDON_API, "functions", names=[jobs.FUNCTION_INIT_STORAGE, FUNCTION_WIPE_STORAGE]
        ),
        related_rule(
            "v1",
            "pods",
            namespace=request.namespace,
            match_labels={
                names.LABEL_INVOKER_KIND: "BackupStorage",
                names.LABEL_INVOKER_NAME: request.name,
            },
        ),
    ]
    return customize_response(rules)


def repositories_using(request: SyncRequest) -> list[dict[str, Any]]:
    """``status.repositories``: every observed Repository whose storageRef names this storage."""
    entries = []
    for repo in request.related.list("Repository", STORAGE_API):
        metadata = repo.get("metadata") or {}
        ref = (repo.get("spec") or {}).get("storageRef") or {}
        ref_namespace = ref.get("namespace") or metadata.get("namespace")
        if ref.get("name") != request.name or ref_namespace != request.namespace:
            continue
        entry = {
            "name": str(metadata.get("name") or ""),
            "namespace": str(metadata.get("namespace") or ""),
            "path": str((repo.get("spec") or {}).get("path") or ""),
        }
        size = (repo.get("status") or {}).get("size")
        if size:
            entry["size"] = str(size)
        entries.append(entry)
    return sorted(entries, key=lambda e: (e["namespace"], e["name"]))


def storage_job(request: SyncRequest, function_name: str, prefix: str, component: str) -> dict:
    """An executor Job over the whole backend (init or wipe); JobInputError when impossible."""
    function = jobs.find_function(request.related, function_name)
    if function is None:
        raise jobs.missing_function(request.related, function_name)
    backend = (request.parent.get("spec") or {}).get("storage") or {}
    target = jobs.repository_target(request.name, backend, "", "", None)
    return jobs.executor_job(
        jobs.JobRequest(
            prefix=prefix,
            owner_name=request.name,
            namespace=request.namespace,
            component=component,
            labels=names.invoker_labels("BackupStorage", request.name, request.namespace),
            function=function,
            values={
                "namespace": request.namespace,
                "storage": canonical_json(backend),
                "envPrefix": "",
            },
            env=target.env,
            volumes=target.volumes,
            volume_mounts=target.volume_mounts,
            backoff_limit=2,
        )
    )


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


def _job_state(request: SyncRequest, job: Mapping[str, Any]) -> jobs.JobOutcome | None:
    observed = request.children.get("Job", BATCH_API, job["metadata"]["name"])
    if observed is None:
        return None
    return jobs.job_outcome(observed, request.related.list("Pod", "v1"))


def _status(request: SyncRequest, extra_conditions: list[dict], when: str) -> tuple[dict, list]:
    """(status, init Job children) — shared by sync and finalize."""
    status_conditions = list(extra_conditions)
    children: list[dict[str, Any]] = []
    observed_jobs = request.children.list("Job", BATCH_API)
    try:
        job = storage_job(
            request, jobs.FUNCTION_INIT_STORAGE, names.PREFIX_INIT, names.COMPONENT_INITIALIZER
        )
    except JobInputError as error:
        children += [as_desired(j) for j in observed_jobs if _is_init(j)]
        status_conditions.append(
            _condition(
                request,
                CONDITION_INITIALIZED,
                False,
                "BackendInitializationFailed",
                str(error),
                when,
            )
        )
    else:
        children.append(job)
        outcome = _job_state(request, job)
        if outcome is None or outcome.state not in ("Succeeded", "Failed"):
            # Earlier init Jobs (other inputs: a changed spec or Function) stay until the new
            # one has finished, as the Repository's do.
            children += [
                as_desired(j) for j in observed_jobs if _is_init(j) and _name(j) != _name(job)
            ]
        if outcome is not None and outcome.state == "Succeeded":
            condition = _condition(
                request,
                CONDITION_INITIALIZED,
                True,
                "BackendInitializationSucceeded",
                "metadata.yaml written",
                when,
            )
        elif outcome is not None and outcome.state == "Failed":
            condition = _condition(
                request,
                CONDITION_INITIALIZED,
                False,
                "BackendInitializationFailed",
                outcome.message,
                when,
            )
        else:
            condition = _condition(
                request,
                CONDITION_INITIALIZED,
                "Unknown",
                "BackendInitializationRunning",
                f"init Job {job['metadata']['name']} has not finished",
                when,
            )
        status_conditions.append(condition)
    secret = secret_name(request.parent)
    if secret:
        found = request.related.get("Secret", "v1", secret, namespace=request.namespace) is not None
        status_conditions.append(
            _condition(
                request,
                CONDITION_SECRET,
                found,
                "BackendSecretAvailable" if found else "BackendSecretNotAvailable",
                f"Secret {request.namespace}/{secret} "
                + ("found" if found else "not found (spec.storage secretName)"),
                when,
            )
        )
    repositories = repositories_using(request)
    ready = conditions.is_true(
        status_conditions, CONDITION_INITIALIZED
    ) and not conditions.is_false(status_conditions, CONDITION_SECRET)
    status = {
        "phase": "Ready" if ready else "NotReady",
        "repositories": repositories,
        "totalSize": format_size(sum(parse_size(r.get("size")) for r in repositories)),
        "conditions": conditions.sorted_conditions(status_conditions),
    }
    return status, children


def _name(job: Mapping[str, Any]) -> str:
    return str((job.get("metadata") or {}).get("name") or "")


def _is_init(job: Mapping[str, Any]) -> bool:
    return _name(job).startswith(f"{names.PREFIX_INIT}-")


def sync(request: SyncRequest) -> dict[str, Any]:
    """The init Job and the storage's status; on finalize, Delete or WipeOut handling.

    An invalid spec makes the storage NotReady with a condition naming the field; its Jobs are
    kept and a deletion waits (the spec says whether to wipe the backend)."""
    found = invalid.parent_problems(request)
    if found:
        return invalid.composite(request, "NotReady", found)
    if request.finalizing:
        return _finalize(request)
    status, children = _status(request, [], _observed_when(request))
    return composite_response(status, children)


def _observed_when(request: SyncRequest) -> str:
    return conditions.observed_time([request.parent, *request.children.list("Job", BATCH_API)])


def _finalize(request: SyncRequest) -> dict[str, Any]:
    """Delete keeps the data and finalizes at once; WipeOut waits for the wipe Job."""
    when = _observed_when(request)
    if (request.parent.get("spec") or {}).get("deletionPolicy") != "WipeOut":
        status, _ = _status(request, [], when)
        return composite_response(status, [], finalized=True)
    try:
        wipe = storage_job(request, FUNCTION_WIPE_STORAGE, PREFIX_WIPE, names.COMPONENT_CLEANER)
    except JobInputError as error:
        blocked = _condition(request, CONDITION_WIPED, False, "WipeOutBlocked", str(error), when)
        status, _ = _status(request, [blocked], when)
        kept = [as_desired(j) for j in request.children.list("Job", BATCH_API)]
        return composite_response(status, kept, finalized=False)
    outcome = _job_state(request, wipe)
    if outcome is not None and outcome.state == "Succeeded":
        condition = _condition(
            request, CONDITION_WIPED, True, "WipeOutSucceeded", "backend data removed", when
        )
    elif outcome is not None and outcome.state == "Failed":
        condition = _condition(
            request, CONDITION_WIPED, False, "WipeOutFailed", outcome.message, when
        )
    else:
        condition = _condition(
            request,
            CONDITION_WIPED,
            "Unknown",
            "WipeOutRunning",
            f"wipe Job {wipe['metadata']['name']} has not finished",
            when,
        )
    status, _ = _status(request, [condition], when)
    done = outcome is not None and outcome.state == "Succeeded"
    return composite_response(status, [wipe], finalized=done)
