"""Executor Jobs: built from the Addon/Function catalog, the target's AppBinding and storage.

Everything a Job needs comes from observed objects in the request: the image and arguments
from the ``zookeeper-addon`` Addon's task and its Function (placeholders ``${name:=default}``
resolved from task params, the task's parameter defaults and built-ins), the ZooKeeper address
from the AppBinding, the repositories from BackupStorage + Repository. Credentials reach the
container only as ``secretKeyRef`` environment variables. The executor writes its result JSON
to the termination message; ``job_outcome`` reads it back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hooks import names
from hooks.json_values import canonical_json, json_copy
from hooks.protocol import ObjectIndex

ADDON_API = "addons.kubestash.com/v1alpha1"
APPBINDING_API = "appcatalog.appscode.com/v1alpha1"
DEFAULT_ADDON = "zookeeper-addon"

CONTAINER_NAME = "executor"
RESULT_FILE = "/dev/termination-log"
SCRATCH_VOLUME = "kubestash-tmp-volume"
SCRATCH_DIR = "/kubestash-tmp"
ZOOKEEPER_PORT = 2181

# Functions for the Job kinds that are not Addon tasks (shipped in manifests/addon/).
FUNCTION_INIT_STORAGE = "zookeeper-init-storage"
FUNCTION_INIT_REPOSITORY = "zookeeper-init-repository"
FUNCTION_FORGET = "zookeeper-forget"
FUNCTION_TRIGGER = "zookeeper-trigger"

# Secret keys per provider, as KubeStash documents them; (key, optional).
_STORAGE_SECRET_KEYS: dict[str, tuple[tuple[str, bool], ...]] = {
    "s3": (
        ("AWS_ACCESS_KEY_ID", False),
        ("AWS_SECRET_ACCESS_KEY", False),
        ("AWS_SESSION_TOKEN", True),
        ("CA_CERT_DATA", True),
    ),
    "gcs": (("GOOGLE_PROJECT_ID", False), ("GOOGLE_SERVICE_ACCOUNT_JSON_KEY", False)),
    "azure": (("AZURE_ACCOUNT_KEY", False),),
}
_LOCAL_NON_VOLUME_FIELDS = ("mountPath", "subPath", "maxConnections")

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.-]*)(?::=([^}]*))?\}")


class JobInputError(ValueError):
    """A user-supplied input needed to build a Job is missing or wrong.

    ``path`` names the object and field (``AppBinding demo/sample-zookeeper: spec.clientConfig``).
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


# ----------------------------------------------------------------------------- placeholders


def _render_one(arg: str, values: Mapping[str, str]) -> tuple[str, bool]:
    """(rendered text, whether any placeholder produced a non-empty value)."""
    produced = False
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        nonlocal produced
        name, default = match.group(1), match.group(2)
        value = values.get(name) or ""
        if value == "":
            if default is None:
                missing.append(name)
            value = default or ""
        produced = produced or value != ""
        return value

    text = _PLACEHOLDER.sub(substitute, arg)
    if missing:
        raise JobInputError(f"Function args {arg!r}", f"no value for ${{{missing[0]}}}")
    return text, produced


def render_args(args: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """Resolve ``${name}`` / ``${name:=default}`` in Function args.

    An option whose placeholders all resolve to empty (``--host=${host:=}``) is dropped: the
    executor rejects empty option values, and KubeStash functions use ``:=`` for "not set".
    """
    rendered: list[str] = []
    for arg in args:
        text, produced = _render_one(arg, values)
        if _PLACEHOLDER.search(arg) and not produced and text.startswith("--"):
            continue
        rendered.append(text)
    return rendered


def param_text(value: Any) -> str:
    """A task param as the string a placeholder receives (booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return canonical_json(value)
    return "" if value is None else str(value)


# ----------------------------------------------------------------------------- catalog


def find_addon(related: ObjectIndex, name: str) -> dict[str, Any] | None:
    """The cluster-scoped Addon of that name among related objects."""
    return related.get("Addon", ADDON_API, name, namespace="")


def find_function(related: ObjectIndex, name: str) -> dict[str, Any] | None:
    """The cluster-scoped Function of that name among related objects."""
    return related.get("Function", ADDON_API, name, namespace="")


def missing_function(related: ObjectIndex, name: str) -> JobInputError:
    """The error for a Function ``find_function`` did not return: absent, or of a wrong shape
    (then the error names its field)."""
    where = f"Function {name}"
    why = related.rejection("Function", ADDON_API, name, namespace="")
    return JobInputError(where, "not found" if why is None else why.removeprefix(f"{where}: "))


def addon_task(addon: Mapping[str, Any], tasks_field: str, task_name: str) -> dict[str, Any] | None:
    """A task of an Addon: ``tasks_field`` is ``backupTasks`` or ``restoreTasks``."""
    for task in (addon.get("spec") or {}).get(tasks_field) or ():
        if isinstance(task, Mapping) and task.get("name") == task_name:
            return dict(task)
    return None


def task_parameter_defaults(task: Mapping[str, Any]) -> dict[str, str]:
    """The defaults an Addon task declares for its parameters."""
    return {
        str(p["name"]): param_text(p.get("default"))
        for p in task.get("parameters") or ()
        if isinstance(p, Mapping) and p.get("name") and p.get("default") is not None
    }


def resolve_task_function(
    related: ObjectIndex, addon_name: str, tasks_field: str, task_name: str, where: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(task, Function) for an Addon task; ``JobInputError`` naming ``where`` when missing."""
    addon = find_addon(related, addon_name)
    if addon is None:
        rejected = related.rejection("Addon", ADDON_API, addon_name, namespace="")
        raise JobInputError(f"{where}.name", rejected or f"Addon {addon_name!r} not found")
    task = addon_task(addon, tasks_field, task_name)
    if task is None:
        raise JobInputError(
            f"{where}.tasks", f"Addon {addon_name!r} has no {tasks_field} entry {task_name!r}"
        )
    function_name = str(task.get("function") or "")
    function = find_function(related, function_name)
    if function is None:
        rejected = related.rejection("Function", ADDON_API, function_name, namespace="")
        raise JobInputError(
            f"Addon {addon_name}: spec.{tasks_field}[{task_name}].function",
            rejected or f"Function {function_name!r} not found",
        )
    return task, function


# ----------------------------------------------------------------------------- env helpers


def secret_env(name: str, secret: str, key: str, optional: bool = False) -> dict[str, Any]:
    """An env var taken from a Secret key (the only way credentials reach a Job)."""
    ref: dict[str, Any] = {"name": secret, "key": key}
    if optional:
        ref["optional"] = True
    return {"name": name, "valueFrom": {"secretKeyRef": ref}}


def plain_env(name: str, value: str) -> dict[str, Any]:
    """A literal env var (never a secret)."""
    return {"name": name, "value": value}


# ----------------------------------------------------------------------------- connection


@dataclass(frozen=True)
class Connection:
    """How the executor reaches ZooKeeper: ``--zookeeper`` hosts, auth mode, TLS, env."""

    hosts: str
    auth: str
    tls: bool
    env: tuple[dict[str, Any], ...] = ()


def connection_from_appbinding(appbinding: Mapping[str, Any]) -> Connection:
    """The ZooKeeper connection an AppBinding describes (clientConfig, secret, tlsSecret)."""
    metadata = appbinding.get("metadata") or {}
    where = f"AppBinding {metadata.get('namespace', '')}/{metadata.get('name', '')}"
    spec = appbinding.get("spec") or {}
    client = spec.get("clientConfig") or {}
    url = client.get("url")
    service = client.get("service")
    if url:
        hosts = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", "", str(url)).rstrip("/")
    elif isinstance(service, Mapping) and service.get("name"):
        namespace = service.get("namespace") or metadata.get("namespace") or ""
        host = f"{service['name']}.{namespace}.svc" if namespace else str(service["name"])
        hosts = f"{host}:{int(service.get('port') or ZOOKEEPER_PORT)}"
        path = str(service.get("path") or "").rstrip("/")
        if path and path != "/":
            hosts += path if path.startswith("/") else f"/{path}"
    else:
        raise JobInputError(f"{where}: spec.clientConfig", "needs url or service.name")
    env: list[dict[str, Any]] = []
    secret = (spec.get("secret") or {}).get("name")
    if secret:
        env += [
            secret_env("ZK_USERNAME", secret, "username"),
            secret_env("ZK_PASSWORD", secret, "password"),
        ]
    tls_secret = (spec.get("tlsSecret") or {}).get("name")
    if tls_secret:
        env += [
            secret_env("ZK_TLS_CA_DATA", tls_secret, "ca.crt"),
            secret_env("ZK_TLS_CERT_DATA", tls_secret, "tls.crt", optional=True),
            secret_env("ZK_TLS_KEY_DATA", tls_secret, "tls.key", optional=True),
        ]
    return Connection(
        hosts=hosts, auth="digest" if secret else "none", tls=bool(tls_secret), env=tuple(env)
    )


# ----------------------------------------------------------------------------- storage


@dataclass(frozen=True)
class RepositoryTarget:
    """One repository as the executor sees it: the ``--repository`` JSON SPEC plus env/mounts."""

    spec: str
    env: tuple[dict[str, Any], ...] = ()
    volumes: tuple[dict[str, Any], ...] = ()
    volume_mounts: tuple[dict[str, Any], ...] = ()


def env_prefix(index: int) -> str:
    """The per-repository env prefix: ``REPO0_``, ``REPO1_``, …"""
    return f"REPO{index}_"


def repository_target(
    name: str,
    storage: Mapping[str, Any],
    path: str,
    prefix: str,
    encryption_secret: str | None,
) -> RepositoryTarget:
    """The executor's view of a repository (contracts §2): SPEC JSON, secret env, volumes.

    ``storage`` is the BackupStorage's ``spec.storage``; only the secret's *name* is in it.
    """
    provider = str(storage.get("provider") or "")
    spec = canonical_json({"name": name, "storage": storage, "path": path, "envPrefix": prefix})
    env: list[dict[str, Any]] = []
    backend = storage.get(provider) or {}
    secret_name = backend.get("secretName") or backend.get("secret")
    if secret_name:
        env += [
            secret_env(f"{prefix}{key}", str(secret_name), key, optional)
            for key, optional in _STORAGE_SECRET_KEYS.get(provider, ())
        ]
    if encryption_secret:
        env.append(secret_env(f"{prefix}RESTIC_PASSWORD", encryption_secret, "RESTIC_PASSWORD"))
    volumes: tuple[dict[str, Any], ...] = ()
    mounts: tuple[dict[str, Any], ...] = ()
    if provider == "local":
        volume_name = f"storage-{prefix.rstrip('_').lower()}"
        source = {k: json_copy(v) for k, v in backend.items() if k not in _LOCAL_NON_VOLUME_FIELDS}
        volumes = ({"name": volume_name, **source},)
        mount: dict[str, Any] = {"name": volume_name, "mountPath": str(backend.get("mountPath"))}
        if backend.get("subPath"):
            mount["subPath"] = str(backend["subPath"])
        mounts = (mount,)
    return RepositoryTarget(spec=spec, env=tuple(env), volumes=volumes, volume_mounts=mounts)


# ----------------------------------------------------------------------------- pod template

_DEFAULT_POD_SECURITY = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
_DEFAULT_CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}
# ofst.PodSpec fields copied to the Kubernetes PodSpec unchanged.
_POD_FIELDS = (
    "serviceAccountName",
    "nodeSelector",
    "affinity",
    "tolerations",
    "imagePullSecrets",
    "priorityClassName",
    "priority",
    "schedulerName",
    "runtimeClassName",
    "topologySpreadConstraints",
    "terminationGracePeriodSeconds",
    "dnsPolicy",
    "dnsConfig",
    "hostNetwork",
    "enableServiceLinks",
)


def _merged_security(default: Mapping[str, Any], user: Mapping[str, Any] | None) -> dict[str, Any]:
    """Restricted defaults under the user's explicit settings (an explicit root user wins)."""
    merged = {**json_copy(dict(default)), **json_copy(dict(user or {}))}
    if merged.get("runAsUser") == 0 and "runAsNonRoot" not in (user or {}):
        del merged["runAsNonRoot"]
    return merged


def pod_from_template(
    container: dict[str, Any],
    volumes: list[dict[str, Any]],
    template: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(pod metadata, pod spec) around ``container``, honouring an ofst PodTemplateSpec.

    ofst's ``spec.securityContext`` is the pod's, ``spec.containerSecurityContext`` the
    container's; ``resources``, ``env``, ``volumeMounts`` apply to the container.
    """
    template = template or {}
    user = template.get("spec") or {}
    pod_metadata = json_copy(dict(template.get("metadata") or {}))
    if user.get("resources"):
        container["resources"] = json_copy(user["resources"])
    if user.get("env"):
        container["env"] = container["env"] + json_copy(list(user["env"]))
    if user.get("volumeMounts"):
        container["volumeMounts"] = container["volumeMounts"] + json_copy(
            list(user["volumeMounts"])
        )
    container["securityContext"] = _merged_security(
        _DEFAULT_CONTAINER_SECURITY, user.get("containerSecurityContext")
    )
    pod_security = _merged_security(_DEFAULT_POD_SECURITY, user.get("securityContext"))
    if pod_security.get("runAsUser") == 0:
        container["securityContext"].pop("runAsNonRoot", None)
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "securityContext": pod_security,
        "containers": [container],
        "volumes": volumes + json_copy(list(user.get("volumes") or ())),
    }
    for key in _POD_FIELDS:
        if user.get(key) not in (None, "", [], {}):
            spec[key] = json_copy(user[key])
    return pod_metadata, spec


# ----------------------------------------------------------------------------- the Job


@dataclass(frozen=True)
class JobRequest:
    """Everything that determines one executor Job; its hash names the Job."""

    prefix: str
    owner_name: str
    namespace: str
    component: str
    labels: Mapping[str, str]
    function: Mapping[str, Any]
    values: Mapping[str, str]
    extra_args: Sequence[str] = ()
    env: Sequence[Mapping[str, Any]] = ()
    volumes: Sequence[Mapping[str, Any]] = ()
    volume_mounts: Sequence[Mapping[str, Any]] = ()
    pod_template: Mapping[str, Any] | None = None
    active_deadline_seconds: int | None = None
    backoff_limit: int = 0
    hash_extra: Any = field(default=None)


def _unique_by(items: Iterable[Mapping[str, Any]], key: str) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for item in items:
        seen.setdefault(str(item.get(key)), json_copy(dict(item)))
    return list(seen.values())


def executor_job(request: JobRequest) -> dict[str, Any]:
    """A batch/v1 Job running the executor, named ``<prefix>-<owner>-<hash of inputs>``."""
    function_spec = request.function.get("spec") or {}
    image = function_spec.get("image")
    function_name = (request.function.get("metadata") or {}).get("name", "")
    if not image:
        raise JobInputError(f"Function {function_name}: spec.image", "is required")
    args = render_args([str(a) for a in function_spec.get("args") or ()], request.values)
    args += list(request.extra_args)
    if function_name != FUNCTION_TRIGGER and not any(a.startswith("--result-file") for a in args):
        args.append(f"--result-file={RESULT_FILE}")
    env = [
        plain_env("TMPDIR", SCRATCH_DIR),
        plain_env("HOME", SCRATCH_DIR),
        plain_env("RESTIC_CACHE_DIR", f"{SCRATCH_DIR}/restic-cache"),
        *(json_copy(dict(e)) for e in request.env),
    ]
    mounts = _unique_by(
        [{"name": SCRATCH_VOLUME, "mountPath": SCRATCH_DIR}, *request.volume_mounts], "mountPath"
    )
    volumes = _unique_by([{"name": SCRATCH_VOLUME, "emptyDir": {}}, *request.volumes], "name")
    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": str(image),
        "command": [str(c) for c in function_spec.get("command") or ["executor"]],
        "args": args,
        "env": env,
        "volumeMounts": mounts,
        "terminationMessagePath": RESULT_FILE,
        # The last stdout line carries the same JSON, a fallback when the file is empty.
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    pod_labels = {**request.labels, names.LABEL_COMPONENT: request.component}
    pod_metadata, pod_spec = pod_from_template(container, volumes, request.pod_template)
    user_spec = (request.pod_template or {}).get("spec") or {}
    if function_name != FUNCTION_TRIGGER:
        # Only the trigger talks to the API; every other Job gets no token to steal, unless the
        # user's template asks for one (a cloud identity that needs the projected token).
        pod_spec["automountServiceAccountToken"] = bool(
            user_spec.get("automountServiceAccountToken", False)
        )
    pod_metadata["labels"] = {**(pod_metadata.get("labels") or {}), **pod_labels}
    job_spec: dict[str, Any] = {
        "backoffLimit": int(request.backoff_limit),
        "template": {"metadata": pod_metadata, "spec": pod_spec},
    }
    if request.active_deadline_seconds:
        job_spec["activeDeadlineSeconds"] = int(request.active_deadline_seconds)
    name = names.hashed_job_name(
        request.prefix, request.owner_name, {"spec": job_spec, "extra": request.hash_extra}
    )
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": request.namespace, "labels": pod_labels},
        "spec": job_spec,
    }


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class JobOutcome:
    """What an observed Job amounts to: ``state`` Pending/Running/Succeeded/Failed, and the
    executor's result (contracts §3) when one was written."""

    state: str
    result: dict[str, Any] | None
    message: str = ""


def _failed_result(error: str) -> dict[str, Any]:
    return {"kind": "Result", "version": 1, "phase": "Failed", "error": error}


def parse_result(message: str | None) -> dict[str, Any] | None:
    """The executor's result from a termination message; unreadable text → a Failed result.

    Accepts the whole message as JSON, or its last line (logs fallback). None when empty.
    """
    if message is None or not message.strip():
        return None
    candidates = [message.strip(), message.strip().splitlines()[-1].strip()]
    for text in candidates:
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if isinstance(value, dict) and value.get("phase") in ("Succeeded", "Failed"):
            result = dict(value)
            result["error"] = str(result.get("error") or "")
            return result
        break
    snippet = message.strip().splitlines()[-1][:120]
    return _failed_result(f"executor result is not valid result JSON: {snippet!r}")


def pods_of_job(job: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The pods a Job created (by owner uid, else by job-name label), oldest first."""
    metadata = job.get("metadata") or {}
    uid, name = metadata.get("uid"), metadata.get("name")
    found = []
    for pod in pods:
        pod_meta = pod.get("metadata") or {}
        owners = [o.get("uid") for o in pod_meta.get("ownerReferences") or ()]
        labels = pod_meta.get("labels") or {}
        by_owner = uid is not None and uid in owners
        by_label = name is not None and (
            labels.get("batch.kubernetes.io/job-name") == name or labels.get("job-name") == name
        )
        if by_owner or by_label:
            found.append(dict(pod))
    return sorted(
        found,
        key=lambda p: (
            str((p.get("metadata") or {}).get("creationTimestamp") or ""),
            str((p.get("metadata") or {}).get("name") or ""),
        ),
    )


def _termination_message(pod: Mapping[str, Any]) -> str | None:
    for status in (pod.get("status") or {}).get("containerStatuses") or ():
        if status.get("name") != CONTAINER_NAME:
            continue
        for state_key in ("state", "lastState"):
            terminated = (status.get(state_key) or {}).get("terminated")
            if terminated and terminated.get("message"):
                return str(terminated["message"])
    return None


def _job_condition(job: Mapping[str, Any], type_: str) -> dict[str, Any] | None:
    for condition in (job.get("status") or {}).get("conditions") or ():
        if condition.get("type") == type_ and condition.get("status") == "True":
            return dict(condition)
    return None


def job_outcome(job: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> JobOutcome:
    """Read an observed Job and its pods; never raises on odd shapes."""
    result = None
    for pod in reversed(pods_of_job(job, pods)):
        result = parse_result(_termination_message(pod))
        if result is not None:
            break
    complete = _job_condition(job, "Complete") or _job_condition(job, "SuccessCriteriaMet")
    failed = _job_condition(job, "Failed") or _job_condition(job, "FailureTarget")
    if failed:
        message = f"{failed.get('reason', 'Failed')}: {failed.get('message', '')}".strip(": ")
        if result is None or result.get("phase") != "Failed":
            result = _failed_result(f"Job {job.get('metadata', {}).get('name')} failed: {message}")
        return JobOutcome("Failed", result, result["error"])
    if complete:
        if result is None:
            result = _failed_result("Job completed without writing a result")
            return JobOutcome("Failed", result, result["error"])
        return JobOutcome(str(result["phase"]), result, str(result.get("error") or ""))
    status = job.get("status") or {}
    if status.get("active") or status.get("startTime"):
        return JobOutcome("Running", None)
    return JobOutcome("Pending", None)


def go_duration(seconds: float) -> str:
    """A duration the way Go's ``time.Duration`` prints it (``4s``, ``1m5s``, ``1h0m0s``)."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def _parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def job_duration(job: Mapping[str, Any]) -> str | None:
    """startTime → completionTime (or the Failed condition's time) of an observed Job."""
    status = job.get("status") or {}
    start = _parse_time(status.get("startTime")) if status.get("startTime") else None
    end_text = status.get("completionTime")
    if not end_text:
        failed = _job_condition(job, "Failed")
        end_text = failed.get("lastTransitionTime") if failed else None
    end = _parse_time(end_text) if end_text else None
    if start is None or end is None:
        return None
    return go_duration(max(0.0, (end - start).total_seconds()))
