"""RestoreSession → one restore Job (``executor restore``) of one Snapshot into the target.

Parent: RestoreSession (core.kubestash.com/v1alpha1). Child: the restore Job. Related: the
Snapshots and Repository in ``spec.dataSource.namespace``, every BackupStorage (the Repository
names which one), the target's AppBinding, the BackupConfigurations of the same target (they
are paused while the restore runs), our Namespace (usagePolicy selectors), the Secret the spec
names (``spec.dataSource.encryptionSecret``), the Addon catalog and the Job's pods.

Secrets: Metacontroller sends a related Secret's data to the hooks, so only the Secret that
customize can name from the spec is related. The others the Job reads (the storage's
credentials, the Repository's encryption Secret, the AppBinding's auth and TLS Secrets) are
named by objects customize cannot see; one that is missing keeps the Job's pod waiting in
``CreateContainerConfigError`` (``secret "x" not found``), which the status reports (Pending,
RestoreExecutorEnsured False, reason SecretNotFound, naming the Secret and the field that names
it) until the Secret appears and the pod starts.

What is restored: ``dataSource.snapshot`` names a Snapshot, or ``latest`` — the newest
Succeeded Snapshot of ``dataSource.repository`` that records a restic snapshot id (by
``status.snapshotTime``, ties broken by name). The choice is made once: the Job carries it in
the annotation ``kubestash.com/snapshot`` and the status in ``dependencies[Snapshot]``, so a
Snapshot that appears mid-restore never starts a second restore. A RestoreSession restores
once; a finished result is carried forward from its own status, with the Job kept as it is.

Phases follow KubeStash's condition rules (reference §1.7): Invalid when ValidationPassed is
False (the spec, or what it names, is wrong: the message names the field); Pending while
waiting (target AppBinding, Addon, Secrets, a Snapshot still running, a backup of the target
still running: see ``running_backups``; a pod waiting for a Secret); Running while the Job
runs; Succeeded/Failed from the executor's result once MetricsPushed (the final status is
written; kube-state-metrics exports it) is True. Observed Jobs are never dropped.

Not supported, and so Invalid rather than silently ignored: ``dataSource.pitr`` and
``spec.hooks`` (pre-/post-restore hooks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hooks import conditions, jobs, names, pod_waits, usage
from hooks.controllers.snapshot import restic_snapshot_id
from hooks.protocol import (
    SyncRequest,
    composite_response,
    customize_response,
    observed_as_desired,
    related_rule,
)
from hooks.secret_uses import (
    SecretUse,
    appbinding_uses,
    repository_uses,
    secret_not_found,
    storage_uses,
    waiting_pod,
)
from schemas.defaults import with_defaults
from schemas.durations import parse_duration
from schemas.validation import validate

CORE_API = "core.kubestash.com/v1alpha1"
CORE_GROUP = "core.kubestash.com"
STORAGE_API = "storage.kubestash.com/v1alpha1"
STORAGE_GROUP = "storage.kubestash.com"
ADDON_GROUP = "addons.kubestash.com"
BATCH_API = "batch/v1"
KIND = "RestoreSession"
COMPONENT = "dump"
DEFAULT_RESTORE_TASK = "logical-backup-restore"
LATEST = "latest"
ANNOTATION_SNAPSHOT = "kubestash.com/snapshot"
TERMINAL = ("Succeeded", "Failed")
RESYNC_SECONDS = 30

VALIDATION_PASSED = "ValidationPassed"
TARGET_FOUND = "RestoreTargetFound"
EXECUTOR_ENSURED = "RestoreExecutorEnsured"
RESTORE_INCOMPLETE = "RestoreIncomplete"
METRICS_PUSHED = "MetricsPushed"
REASON_BACKUP_RUNNING = "BackupRunning"
JOB_KIND = "restore Job"


# ----------------------------------------------------------------------------- the spec


def _text(value: Any) -> str:
    """A spec field as text; anything that is not a string (a half-written spec) is ''."""
    return value if isinstance(value, str) else ""


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class DataSource:
    """``spec.dataSource`` as plain text: where the Snapshot and Repository live."""

    namespace: str
    repository: str
    snapshot: str
    encryption_secret: str


def data_source(restore: Mapping[str, Any]) -> DataSource:
    """The data source of a RestoreSession (namespace defaults to the RestoreSession's)."""
    own_namespace = _text(_mapping(restore.get("metadata")).get("namespace"))
    source = _mapping(_mapping(restore.get("spec")).get("dataSource"))
    return DataSource(
        namespace=_text(source.get("namespace")) or own_namespace,
        repository=_text(source.get("repository")),
        snapshot=_text(source.get("snapshot")),
        encryption_secret=_text(_mapping(source.get("encryptionSecret")).get("name")),
    )


def target_of(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    """(kind, namespace, name) of ``spec.target``; the namespace defaults to the object's.

    The BackupSession controller compares targets the same way to skip backups while a
    restore of the same target runs.
    """
    target = _mapping(_mapping(obj.get("spec")).get("target"))
    own_namespace = _text(_mapping(obj.get("metadata")).get("namespace"))
    return (
        _text(target.get("kind")),
        _text(target.get("namespace")) or own_namespace,
        _text(target.get("name")),
    )


def _addon(restore: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """(Addon name, first restore task) of ``spec.addon``; the zookeeper-addon by default."""
    addon = _mapping(_mapping(restore.get("spec")).get("addon"))
    tasks = addon.get("tasks") if isinstance(addon.get("tasks"), list) else []
    task = _mapping(tasks[0]) if tasks else {}
    return _text(addon.get("name")) or jobs.DEFAULT_ADDON, task


# The ofst PodTemplateSpec fields the Job builder reads, and the JSON type each must have. The
# schema keeps jobTemplate verbatim (as KubeStash does), so its shape is checked here; what a
# well-typed field holds (resource quantities, …) the API server judges when the Job is created.
_JOB_TEMPLATE_SHAPE: dict[str, type] = {
    "resources": dict,
    "env": list,
    "volumeMounts": list,
    "volumes": list,
    "securityContext": dict,
    "containerSecurityContext": dict,
    "nodeSelector": dict,
    "tolerations": list,
    "imagePullSecrets": list,
}
_TYPE_WORDS = {dict: "a mapping", list: "a list"}


def job_template_problems(template: Any) -> list[str]:
    """Shape problems of ``spec.addon.jobTemplate`` (fields the restore Job copies)."""
    path = "spec.addon.jobTemplate"
    if template is None:
        return []
    if not isinstance(template, Mapping):
        return [f"{path}: expected a mapping"]
    problems = [
        f"{path}.{key}: expected a mapping"
        for key in ("metadata", "spec")
        if template.get(key) is not None and not isinstance(template.get(key), Mapping)
    ]
    pod = _mapping(template.get("spec"))
    for key, kind in _JOB_TEMPLATE_SHAPE.items():
        value = pod.get(key)
        if value is not None and not isinstance(value, kind):
            problems.append(f"{path}.spec.{key}: expected {_TYPE_WORDS[kind]}")
        elif isinstance(value, list):
            # Every list the Job builder copies holds objects (EnvVar, Volume, Toleration, …).
            problems += [
                f"{path}.spec.{key}[{index}]: expected a mapping"
                for index, item in enumerate(value)
                if not isinstance(item, Mapping)
            ]
    return problems


def spec_problems(restore: Mapping[str, Any]) -> list[str]:
    """Schema and webhook problems of the RestoreSession, each naming its field path."""
    metadata = _mapping(restore.get("metadata"))
    checked = {
        "apiVersion": restore.get("apiVersion"),
        "kind": restore.get("kind"),
        "metadata": {k: metadata[k] for k in ("name", "namespace", "labels") if k in metadata},
        "spec": restore.get("spec"),
    }
    problems = [str(problem) for problem in validate(checked)]
    spec = _mapping(restore.get("spec"))
    if not problems:
        problems += job_template_problems(_mapping(spec.get("addon")).get("jobTemplate"))
    if not problems and not _text(_mapping(spec.get("target")).get("name")):
        problems.append("spec.target.name: required (the AppBinding of the target has this name)")
    components = _mapping(spec.get("dataSource")).get("components")
    if not problems and components and COMPONENT not in components:
        problems.append(
            f"spec.dataSource.components: a ZooKeeper snapshot has one component, {COMPONENT!r}"
        )
    restore_hooks = _mapping(spec.get("hooks"))
    if not problems and (restore_hooks.get("preRestore") or restore_hooks.get("postRestore")):
        problems.append("spec.hooks: pre- and post-restore hooks are not supported")
    if not problems and _mapping(spec.get("dataSource")).get("pitr") is not None:
        problems.append(
            "spec.dataSource.pitr: point-in-time restore is not supported; name a snapshot"
        )
    return problems


# ----------------------------------------------------------------------------- customize


def customize(request: SyncRequest) -> dict[str, Any]:
    """Related: the data source's Snapshots/Repository, storages, the target's AppBinding and
    BackupConfigurations, our Namespace, the Secrets the spec names, the catalog, the restore
    Job's pods."""
    source = data_source(request.parent)
    _, target_namespace, target_name = target_of(request.parent)
    addon_name, _ = _addon(request.parent)
    if source.snapshot == LATEST or not source.snapshot:
        snapshot_rule = related_rule(
            STORAGE_API,
            "snapshots",
            namespace=source.namespace,
            match_labels={names.LABEL_REPO_NAME: source.repository},
        )
    else:
        snapshot_rule = related_rule(
            STORAGE_API, "snapshots", namespace=source.namespace, names=[source.snapshot]
        )
    # A named Snapshot without dataSource.repository names its Repository itself.
    repository_rule = (
        related_rule(
            STORAGE_API, "repositories", namespace=source.namespace, names=[source.repository]
        )
        if source.repository
        else related_rule(STORAGE_API, "repositories", namespace=source.namespace)
    )
    # Only Secrets named here are sent (with their data); none named: no Secret rule at all.
    secret_names = [use.name for use in spec_secret_uses(source)]
    secret_rules = (
        [related_rule("v1", "secrets", namespace=request.namespace, names=secret_names)]
        if secret_names
        else []
    )
    return customize_response(
        [
            snapshot_rule,
            repository_rule,
            # The Repository names the storage, which customize cannot see; storages are few.
            related_rule(STORAGE_API, "backupstorages"),
            related_rule(
                jobs.APPBINDING_API,
                "appbindings",
                namespace=target_namespace or request.namespace,
                names=[target_name],
            ),
            related_rule(CORE_API, "backupconfigurations", namespace=target_namespace),
            # A backup of the target that is running holds the restore (running_backups).
            related_rule(CORE_API, "backupsessions", namespace=target_namespace),
            related_rule("v1", "namespaces", names=[request.namespace]),
            # Only the existence of a Secret is read, never its data.
            *secret_rules,
            related_rule(jobs.ADDON_API, "addons", names=[addon_name]),
            related_rule(jobs.ADDON_API, "functions"),
            related_rule(
                "v1",
                "pods",
                namespace=request.namespace,
                match_labels={
                    names.LABEL_INVOKER_KIND: KIND,
                    names.LABEL_INVOKER_NAME: request.name,
                },
            ),
        ]
    )


# ----------------------------------------------------------------------------- the snapshot


def snapshot_time(snapshot: Mapping[str, Any]) -> str:
    """When a Snapshot was taken: ``status.snapshotTime``, else its creation time."""
    status = _mapping(snapshot.get("status"))
    metadata = _mapping(snapshot.get("metadata"))
    return _text(status.get("snapshotTime")) or _text(metadata.get("creationTimestamp"))


def latest_snapshot(snapshots: list[dict[str, Any]], repository: str) -> dict[str, Any] | None:
    """The newest restorable Snapshot of ``repository``: Succeeded with a restic snapshot id,
    newest ``snapshotTime`` first, ties broken by the greater name."""
    candidates = [
        snapshot
        for snapshot in snapshots
        if _text(_mapping(snapshot.get("spec")).get("repository")) == repository
        and _mapping(snapshot.get("status")).get("phase") == "Succeeded"
        and restic_snapshot_id(_mapping(snapshot.get("status"))) is not None
    ]
    if not candidates:
        return None
    return max(
        candidates,
        key=lambda s: (snapshot_time(s), _text(_mapping(s.get("metadata")).get("name"))),
    )


def pinned_by_job(job: Mapping[str, Any]) -> tuple[str, str] | None:
    """(namespace, name) of the Snapshot an observed restore Job was made for."""
    metadata = _mapping(job.get("metadata"))
    value = _text(_mapping(metadata.get("annotations")).get(ANNOTATION_SNAPSHOT))
    namespace, sep, name = value.partition("/")
    return (namespace, name) if sep and name else None


def pinned_by_status(status: Mapping[str, Any], generation: int = 0) -> tuple[str, str] | None:
    """(namespace, name) of the Snapshot an earlier sync chose, once it asked for the Job, or
    while it waits for a running backup of this ``generation`` of the spec (the Snapshot that
    backup makes is not the "latest" the user asked for)."""
    ensured = conditions.find(status.get("conditions"), EXECUTOR_ENSURED) or {}
    waiting = (
        ensured.get("reason") == REASON_BACKUP_RUNNING
        and ensured.get("observedGeneration") == generation
    )
    if ensured.get("status") != conditions.TRUE and not waiting:
        return None
    for dependency in status.get("dependencies") or ():
        if isinstance(dependency, Mapping) and dependency.get("kind") == "Snapshot":
            name = _text(dependency.get("name"))
            if name and name != LATEST:
                return _text(dependency.get("namespace")), name
    return None


# ----------------------------------------------------------------------------- resolution


@dataclass(frozen=True)
class Blocked:
    """Why no Job can be made now: ``invalid`` (the spec or what it names is wrong: phase
    Invalid) or waiting for something to appear (phase Pending)."""

    invalid: bool
    reason: str
    message: str


@dataclass(frozen=True)
class Resolved:
    """The observed objects a restore reads from, and the restic snapshot id to restore."""

    snapshot: dict[str, Any]
    repository: dict[str, Any]
    storage: dict[str, Any]
    restic_id: str


def _invalid(message: str) -> Blocked:
    return Blocked(True, "ResourceValidationFailed", message)


def _find_snapshot(
    request: SyncRequest, source: DataSource
) -> tuple[dict[str, Any] | None, Blocked | None]:
    """The Snapshot to restore: pinned by an earlier sync, else named, else the latest."""
    pinned = pinned_by_status(request.observed_status, request.generation)
    if pinned is not None:
        found = request.related.get("Snapshot", STORAGE_API, pinned[1], namespace=pinned[0])
        if found is None:
            return None, _invalid(
                f"spec.dataSource.snapshot: Snapshot {pinned[0]}/{pinned[1]}, chosen for this "
                "restore, no longer exists"
            )
        return found, None
    if source.snapshot == LATEST:
        found = latest_snapshot(request.related.list("Snapshot", STORAGE_API), source.repository)
        if found is None:
            return None, _invalid(
                f"spec.dataSource.snapshot: Repository {source.namespace}/{source.repository} "
                'has no Succeeded Snapshot to restore as "latest"'
            )
        return found, None
    found = request.related.get(
        "Snapshot", STORAGE_API, source.snapshot, namespace=source.namespace
    )
    if found is None:
        return None, _invalid(
            f"spec.dataSource.snapshot: Snapshot {source.namespace}/{source.snapshot} not found"
        )
    return found, None


def resolve_source(request: SyncRequest, source: DataSource) -> Resolved | Blocked:
    """Snapshot, Repository and BackupStorage of the restore, or why they cannot be used."""
    repository = None
    if source.repository:
        repository = request.related.get(
            "Repository", STORAGE_API, source.repository, namespace=source.namespace
        )
        if repository is None:
            return _invalid(
                f"spec.dataSource.repository: Repository {source.namespace}/"
                f"{source.repository} not found"
            )
    snapshot, blocked = _find_snapshot(request, source)
    if blocked is not None or snapshot is None:
        return blocked or _invalid("spec.dataSource.snapshot: not found")
    snapshot_name = _text(_mapping(snapshot.get("metadata")).get("name"))
    where = f"Snapshot {source.namespace}/{snapshot_name}"
    snapshot_repository = _text(_mapping(snapshot.get("spec")).get("repository"))
    if repository is None:
        repository = request.related.get(
            "Repository", STORAGE_API, snapshot_repository, namespace=source.namespace
        )
        if repository is None:
            return _invalid(
                f"spec.dataSource.snapshot: {where} names Repository "
                f"{snapshot_repository!r}, which was not found in {source.namespace}"
            )
    elif snapshot_repository and snapshot_repository != source.repository:
        return _invalid(
            f"spec.dataSource.snapshot: {where} belongs to Repository "
            f"{snapshot_repository!r}, not {source.repository!r}"
        )
    phase = _text(_mapping(snapshot.get("status")).get("phase"))
    if phase == "Failed":
        return _invalid(f"spec.dataSource.snapshot: {where} is Failed and cannot be restored")
    if phase != "Succeeded":
        return Blocked(False, "SnapshotNotReady", f"waiting for {where} to succeed")
    restic_id = restic_snapshot_id(_mapping(snapshot.get("status")))
    if restic_id is None:
        return _invalid(
            f"spec.dataSource.snapshot: {where} records no restic snapshot id "
            "(status.components.dump.resticStats[0].summary.id)"
        )
    storage, blocked = _storage_of(request, repository, source)
    if blocked is not None or storage is None:
        return blocked or _invalid("spec.dataSource.repository: storage not found")
    return Resolved(snapshot, repository, storage, restic_id)


def _storage_of(
    request: SyncRequest, repository: Mapping[str, Any], source: DataSource
) -> tuple[dict[str, Any] | None, Blocked | None]:
    """The Repository's BackupStorage, if our namespace may use it (usagePolicy)."""
    repo_name = _text(_mapping(repository.get("metadata")).get("name"))
    ref = _mapping(_mapping(repository.get("spec")).get("storageRef"))
    storage_namespace = _text(ref.get("namespace")) or source.namespace
    storage_name = _text(ref.get("name"))
    storage = request.related.get(
        "BackupStorage", STORAGE_API, storage_name, namespace=storage_namespace
    )
    if storage is None:
        return None, _invalid(
            f"Repository {source.namespace}/{repo_name}: spec.storageRef: BackupStorage "
            f"{storage_namespace}/{storage_name} not found"
        )
    namespace = request.related.get("Namespace", "v1", request.namespace, namespace="")
    labels = _mapping(_mapping((namespace or {}).get("metadata")).get("labels"))
    if not usage.allows(storage, request.namespace, dict(labels)):
        field = (
            "spec.dataSource.namespace"
            if source.namespace != request.namespace
            else "spec.dataSource.repository"
        )
        return None, _invalid(f"{field}: {usage.denial(storage, request.namespace)}")
    return storage, None


# ----------------------------------------------------------------------------- the Job


def spec_secret_uses(source: DataSource) -> list[SecretUse]:
    """The Secrets the RestoreSession's own spec names (all customize can relate)."""
    if not source.encryption_secret:
        return []
    return [SecretUse(source.encryption_secret, "spec.dataSource.encryptionSecret")]


def secret_uses(
    repository: Mapping[str, Any],
    storage: Mapping[str, Any],
    source: DataSource,
    appbinding: Mapping[str, Any],
) -> list[SecretUse]:
    """Every Secret the Job's ``secretKeyRef`` env vars name, with where it is named."""
    uses = spec_secret_uses(source)
    if not uses:
        uses += repository_uses(repository)
    return [*uses, *storage_uses(storage), *appbinding_uses(appbinding)]


def missing_secrets(request: SyncRequest, uses: list[SecretUse]) -> list[str]:
    """One sentence per Secret of ``uses`` (related ones) that our namespace does not hold."""
    return [
        secret_not_found(request.namespace, use, JOB_KIND)
        for use in uses
        if request.related.get("Secret", "v1", use.name, namespace=request.namespace) is None
    ]


def timeout_seconds(restore: Mapping[str, Any]) -> int | None:
    """``spec.restoreTimeout`` (old name ``timeout``) in whole seconds, if set."""
    timeout = _text(_mapping(with_defaults(dict(restore)).get("spec")).get("restoreTimeout"))
    return int(parse_duration(timeout).total_seconds()) if timeout else None


def restore_job(
    request: SyncRequest, plan: Resolved, source: DataSource, appbinding: Mapping[str, Any]
) -> dict[str, Any]:
    """The ``executor restore`` Job; JobInputError names a wrong input."""
    addon_name, task_ref = _addon(request.parent)
    task_name = _text(task_ref.get("name")) or DEFAULT_RESTORE_TASK
    task, function = jobs.resolve_task_function(
        request.related,
        addon_name,
        "restoreTasks",
        task_name,
        f"RestoreSession {request.namespace}/{request.name}: spec.addon",
    )
    repo_meta = _mapping(plan.repository.get("metadata"))
    repo_spec = _mapping(plan.repository.get("spec"))
    encryption = source.encryption_secret or _text(
        _mapping(repo_spec.get("encryptionSecret")).get("name")
    )
    target = jobs.repository_target(
        _text(repo_meta.get("name")),
        with_defaults(plan.storage)["spec"]["storage"],
        _text(repo_spec.get("path")),
        jobs.env_prefix(0),
        encryption or None,
    )
    connection = jobs.connection_from_appbinding(appbinding)
    params = _mapping(task_ref.get("params"))
    snapshot_meta = _mapping(plan.snapshot.get("metadata"))
    values = {
        **jobs.task_parameter_defaults(task),
        "namespace": request.namespace,
        "zookeeper": connection.hosts,
        "auth": connection.auth,
        "repository": target.spec,
        "session": _text(_mapping(plan.snapshot.get("spec")).get("session")),
        "snapshot": plan.restic_id,
        "restoreSession": request.name,
        **{str(k): jobs.param_text(v) for k, v in params.items()},
    }
    addon = _mapping(_mapping(request.parent.get("spec")).get("addon"))
    job = jobs.executor_job(
        jobs.JobRequest(
            prefix=names.PREFIX_RESTORE,
            owner_name=request.name,
            namespace=request.namespace,
            component=names.COMPONENT_RESTORE,
            labels=names.invoker_labels(KIND, request.name, request.namespace),
            function=function,
            values=values,
            extra_args=["--tls"] if connection.tls else [],
            env=[*connection.env, *target.env],
            volumes=list(target.volumes),
            volume_mounts=list(target.volume_mounts),
            pod_template=_mapping(addon.get("jobTemplate")) or None,
            active_deadline_seconds=timeout_seconds(request.parent),
        )
    )
    job["metadata"]["annotations"] = {
        ANNOTATION_SNAPSHOT: f"{source.namespace}/{snapshot_meta.get('name')}"
    }
    return job


# ----------------------------------------------------------------------------- status


def restore_phase(restore_conditions: list[dict[str, Any]], components: Mapping[str, Any]) -> str:
    """KubeStash's RestoreSession phase from conditions and components (reference §1.7)."""
    if conditions.is_false(restore_conditions, METRICS_PUSHED):
        return "Failed"
    if conditions.is_false(restore_conditions, VALIDATION_PASSED):
        return "Invalid"
    final = conditions.is_true(restore_conditions, METRICS_PUSHED)
    if final and (
        conditions.is_false(restore_conditions, EXECUTOR_ENSURED)
        or conditions.is_true(restore_conditions, RESTORE_INCOMPLETE)
    ):
        return "Failed"
    phases = [_text(_mapping(c).get("phase")) for c in components.values()]
    finished = all(p in ("Succeeded", "Failed", "Unknown") for p in phases)
    if not phases or all(p == "Pending" for p in phases):
        aggregate = "Pending"
    elif all(p == "Succeeded" for p in phases):
        aggregate = "Succeeded"
    elif finished and "Failed" in phases:
        aggregate = "Failed"
    elif finished:
        aggregate = "Unknown"
    else:
        aggregate = "Running"
    if not final and aggregate not in ("Pending", "Unknown"):
        return "Running"
    return aggregate


class _Conditions:
    """Conditions of one sync, transition times taken from observed objects."""

    def __init__(self, request: SyncRequest) -> None:
        self.request = request
        self.when = conditions.observed_time(
            [request.parent, *request.children.all(), *request.related.list("Pod", "v1")]
        )
        self.items: list[dict[str, Any]] = []

    def add(self, type_: str, status: bool, reason: str, message: str) -> None:
        self.items.append(
            conditions.condition(
                type_,
                status,
                reason,
                message,
                observed_generation=self.request.generation,
                previous=self.request.observed_status.get("conditions"),
                transition_time=self.when,
            )
        )

    def sorted(self) -> list[dict[str, Any]]:
        return conditions.sorted_conditions(self.items)


def dependencies(
    request: SyncRequest, source: DataSource, snapshot: tuple[str, str] | None
) -> list[dict[str, Any]]:
    """The Snapshot (the chosen one once known) and the Addon, each with ``found``."""
    result = []
    namespace, name = snapshot or (source.namespace, source.snapshot)
    if name:
        found = request.related.get("Snapshot", STORAGE_API, name, namespace=namespace)
        result.append(
            {
                "apiGroup": STORAGE_GROUP,
                "kind": "Snapshot",
                "namespace": namespace,
                "name": name,
                "found": found is not None,
            }
        )
    addon_name, _ = _addon(request.parent)
    result.append(
        {
            "apiGroup": ADDON_GROUP,
            "kind": "Addon",
            "name": addon_name,
            "found": jobs.find_addon(request.related, addon_name) is not None,
        }
    )
    return result


def backups_of_target(request: SyncRequest) -> list[dict[str, Any]]:
    """The BackupConfigurations of the same target, as references (paused while restoring)."""
    target = target_of(request.parent)
    return [
        {
            "apiGroup": CORE_GROUP,
            "kind": "BackupConfiguration",
            "namespace": _text(_mapping(bc.get("metadata")).get("namespace")),
            "name": _text(_mapping(bc.get("metadata")).get("name")),
        }
        for bc in request.related.list("BackupConfiguration", CORE_API)
        if target_of(bc) == target
    ]


def running_backups(request: SyncRequest) -> list[str]:
    """``namespace/name`` of every Running BackupSession of a BackupConfiguration of the same
    target. The restore waits for them, so that no backup captures the tree mid-restore; they
    never wait for the restore (a BackupSession consults restores only before its first Job,
    and is Skipped while one is Pending or Running), so the two cannot deadlock."""
    invokers = {(ref["namespace"], ref["name"]) for ref in backups_of_target(request)}
    running = []
    for session in request.related.list("BackupSession", CORE_API):
        metadata = _mapping(session.get("metadata"))
        namespace = _text(metadata.get("namespace"))
        invoker = _mapping(_mapping(session.get("spec")).get("invoker"))
        if (namespace, _text(invoker.get("name"))) not in invokers:
            continue
        if _mapping(session.get("status")).get("phase") == "Running":
            running.append(f"{namespace}/{_text(metadata.get('name'))}")
    return sorted(running)


def _appbinding(request: SyncRequest) -> dict[str, Any] | None:
    _, namespace, name = target_of(request.parent)
    if not name:
        return None
    return request.related.get("AppBinding", jobs.APPBINDING_API, name, namespace=namespace)


def _deadline(job: Mapping[str, Any], seconds: int | None) -> str | None:
    start = _text(_mapping(job.get("status")).get("startTime"))
    if not start or not seconds:
        return None
    try:
        begin = datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (begin + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def component_of(outcome: jobs.JobOutcome) -> dict[str, Any]:
    """The ``dump`` component from the Job's state and the executor's RestoreResult."""
    component: dict[str, Any] = {"phase": outcome.state}
    result = outcome.result or {}
    if result.get("durationSeconds") is not None:
        component["duration"] = jobs.go_duration(float(result["durationSeconds"]))
    if outcome.state == "Failed":
        component["error"] = _text(result.get("error")) or outcome.message or "restore failed"
    # restic's file counts carry znode counts here: the stream's znodes, and those created,
    # updated or skipped (existing, left as they were) by the restore.
    znodes = _mapping(result.get("znodes"))
    stream = _mapping(result.get("stream"))
    if znodes and isinstance(stream.get("znodes"), int):
        counted = sum(int(znodes.get(k) or 0) for k in ("created", "updated", "skipped"))
        component["progress"] = {
            "totalFiles": int(stream["znodes"]),
            "filesDone": counted,
            "restoreDone": outcome.state == "Succeeded",
        }
    return component


def _oldest(objects: list[dict[str, Any]]) -> dict[str, Any] | None:
    def order(obj: Mapping[str, Any]) -> tuple[str, str]:
        metadata = _mapping(obj.get("metadata"))
        return _text(metadata.get("creationTimestamp")), _text(metadata.get("name"))

    return min(objects, key=order) if objects else None


@dataclass
class _Status:
    """The parts of one status; ``response`` assembles them with the phase rule."""

    request: SyncRequest
    source: DataSource
    found: _Conditions
    snapshot: tuple[str, str] | None = None
    components: dict[str, Any] | None = None
    job: dict[str, Any] | None = None

    def response(self, children: list[dict[str, Any]]) -> dict[str, Any]:
        request = self.request
        items = self.found.sorted()
        components = self.components or {}
        phase = restore_phase(items, components)
        appbinding = _appbinding(request)
        status: dict[str, Any] = {"phase": phase, "targetFound": appbinding is not None}
        if components:
            status["totalComponents"] = len(components)
            status["components"] = components
        if self.job is not None:
            duration = jobs.job_duration(self.job)
            if duration:
                status["duration"] = duration
            deadline = _deadline(self.job, _safe_timeout(request.parent))
            if deadline:
                status["restoreDeadline"] = deadline
        status["dependencies"] = dependencies(request, self.source, self.snapshot)
        paused = backups_of_target(request)
        if phase in ("Pending", "Running") and paused:
            status["pausedBackups"] = paused
        status["conditions"] = items
        resync = RESYNC_SECONDS if phase in ("Pending", "Running") else None
        return composite_response(status, children, resync_after_seconds=resync)


def _safe_timeout(restore: Mapping[str, Any]) -> int | None:
    try:
        return timeout_seconds(restore)
    except ValueError:
        return None


# ----------------------------------------------------------------------------- sync


def _target_condition(
    request: SyncRequest, found: _Conditions, appbinding: Mapping[str, Any] | None
) -> None:
    _, namespace, name = target_of(request.parent)
    found.add(
        TARGET_FOUND,
        appbinding is not None,
        "TargetAvailable" if appbinding is not None else "TargetNotAvailable",
        f"AppBinding {namespace}/{name} "
        + ("found" if appbinding is not None else "not found; waiting for it"),
    )


def _observed_run(request: SyncRequest, state: _Status, job: dict[str, Any]) -> dict[str, Any]:
    """A restore Job exists: status from its outcome; the Job is kept as it is."""
    found = state.found
    found.add(VALIDATION_PASSED, True, "ResourceValidationPassed", "the spec is valid")
    _target_condition(request, found, _appbinding(request))
    job_name = _text(_mapping(job.get("metadata")).get("name"))
    state.snapshot = pinned_by_job(job)
    of_snapshot = f" of Snapshot {'/'.join(state.snapshot)}" if state.snapshot else ""
    found.add(
        EXECUTOR_ENSURED,
        True,
        "SuccessfullyEnsuredRestoreExecutor",
        f"restore Job {job_name}{of_snapshot}",
    )
    outcome = jobs.job_outcome(job, request.related.list("Pod", "v1"))
    waits = pod_waits.config_waits(job, request.related.list("Pod", "v1"))
    if outcome.state not in TERMINAL and waits:
        reason, message = _waiting_pod(request, state.source, job, waits)
        found.add(EXECUTOR_ENSURED, False, reason, message)
        state.components = {COMPONENT: {"phase": "Pending"}}
        state.job = job
        return state.response(observed_as_desired(request.children))
    if outcome.state in TERMINAL:
        incomplete = _text((outcome.result or {}).get("kind")) != "RestoreResult"
        found.add(
            RESTORE_INCOMPLETE,
            incomplete,
            "RestoreExecutorTerminatedBeforeCompletion" if incomplete else "RestoreCompleted",
            outcome.message if incomplete else "the restore executor finished",
        )
        found.add(
            METRICS_PUSHED,
            True,
            "SuccessfullyPushedMetrics",
            "the final status is written; kube-state-metrics exports it",
        )
    state.components = {COMPONENT: component_of(outcome)}
    state.job = job
    return state.response(observed_as_desired(request.children))


def _job_secret_uses(
    request: SyncRequest, source: DataSource, job: Mapping[str, Any]
) -> list[SecretUse]:
    """The Secrets an observed restore Job reads, from the objects that name them; objects
    that are gone by now contribute nothing (the message then names only the Secret)."""
    pinned = pinned_by_job(job)
    snapshot = (
        request.related.get("Snapshot", STORAGE_API, pinned[1], namespace=pinned[0])
        if pinned
        else None
    )
    repository_name = source.repository or _text(
        _mapping(_mapping(snapshot).get("spec")).get("repository")
    )
    repository = _mapping(
        request.related.get("Repository", STORAGE_API, repository_name, namespace=source.namespace)
    )
    ref = _mapping(_mapping(repository.get("spec")).get("storageRef"))
    storage = request.related.get(
        "BackupStorage",
        STORAGE_API,
        _text(ref.get("name")),
        namespace=_text(ref.get("namespace")) or source.namespace,
    )
    return secret_uses(repository, _mapping(storage), source, _mapping(_appbinding(request)))


def _waiting_pod(
    request: SyncRequest,
    source: DataSource,
    job: Mapping[str, Any],
    waits: list[pod_waits.ConfigWait],
) -> tuple[str, str]:
    """(reason, message) for a restore Job whose pod the kubelet cannot configure."""
    job_name = _text(_mapping(job.get("metadata")).get("name"))
    uses = _job_secret_uses(request, source, job)
    return waiting_pod(request.namespace, JOB_KIND, job_name, waits, uses)


def _blocked(state: _Status, blocked: Blocked, children: list[dict[str, Any]]) -> dict:
    if blocked.invalid:
        state.found.add(VALIDATION_PASSED, False, blocked.reason, blocked.message)
    else:
        state.found.add(VALIDATION_PASSED, True, "ResourceValidationPassed", "the spec is valid")
        state.found.add(EXECUTOR_ENSURED, False, blocked.reason, blocked.message)
        state.components = {COMPONENT: {"phase": "Pending"}}
    return state.response(children)


def _plan_and_create(request: SyncRequest, state: _Status) -> dict[str, Any]:
    """No Job yet: resolve the source, check target, Addon and Secrets, ask for the Job."""
    kept = observed_as_desired(request.children)
    appbinding = _appbinding(request)
    _target_condition(request, state.found, appbinding)
    plan = resolve_source(request, state.source)
    if isinstance(plan, Blocked):
        return _blocked(state, plan, kept)
    snapshot_meta = _mapping(plan.snapshot.get("metadata"))
    state.snapshot = (state.source.namespace, _text(snapshot_meta.get("name")))
    backups = running_backups(request)
    if backups:
        waiting = f"waiting for BackupSession {', '.join(backups)} of the same target to finish"
        return _blocked(state, Blocked(False, REASON_BACKUP_RUNNING, waiting), kept)
    if appbinding is None:
        return _blocked(state, Blocked(False, "TargetNotAvailable", "waiting for the target"), kept)
    addon_name, _ = _addon(request.parent)
    if jobs.find_addon(request.related, addon_name) is None:
        return _blocked(
            state, Blocked(False, "AddonNotFound", f"Addon {addon_name} not found"), kept
        )
    try:
        job = restore_job(request, plan, state.source, appbinding)
    except jobs.JobInputError as problem:
        return _blocked(state, _invalid(str(problem)), kept)
    # Only the spec's Secrets are related; a missing other one shows on the Job's pod.
    missing = missing_secrets(request, spec_secret_uses(state.source))
    if missing:
        return _blocked(state, Blocked(False, "SecretNotFound", "; ".join(missing)), kept)
    state.found.add(VALIDATION_PASSED, True, "ResourceValidationPassed", "the spec is valid")
    state.found.add(
        EXECUTOR_ENSURED,
        True,
        "SuccessfullyEnsuredRestoreExecutor",
        f"restore Job {job['metadata']['name']} of Snapshot {'/'.join(state.snapshot)}",
    )
    state.components = {COMPONENT: {"phase": "Pending"}}
    return state.response([*kept, job])


def sync(request: SyncRequest) -> dict[str, Any]:
    """Desired restore Job and status of one RestoreSession."""
    previous = request.observed_status
    if previous.get("phase") in TERMINAL:
        # A restore runs once; its result is final even after the Job is gone.
        carried = {k: v for k, v in previous.items() if k != "observedGeneration"}
        return composite_response(carried, observed_as_desired(request.children))
    state = _Status(request, data_source(request.parent), _Conditions(request))
    problems = spec_problems(request.parent)
    if problems:
        return _blocked(
            state,
            _invalid("; ".join(problems)),
            observed_as_desired(request.children),
        )
    job = _oldest(request.children.list("Job", BATCH_API))
    if job is not None:
        return _observed_run(request, state, job)
    return _plan_and_create(request, state)
