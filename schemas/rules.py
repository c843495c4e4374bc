"""Semantic rules of the KubeStash webhooks that a JSON Schema cannot express.

Each rule reads the object defensively: where a value has the wrong shape the schema check
already reports it, so the rule skips it rather than fail. Every function returns Problems.
"""

from collections.abc import Callable, Iterator
from typing import Any

from schemas.cron import is_valid_cron
from schemas.durations import parse_duration
from schemas.names import label_name_problem, object_name_problem
from schemas.problems import Problem, field_path

Path = tuple[Any, ...]
Rule = Callable[[dict[str, Any]], list[Problem]]


def _path(parts: Path) -> str:
    return field_path(parts)


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def _text(value: Any) -> str | None:
    """A non-empty string, or None."""
    return value if isinstance(value, str) and value else None


def _items(value: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    """(index, item) for the mapping items of a list; anything else yields nothing."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict):
                yield index, item


def _is_template(value: Any) -> bool:
    """True for BackupBlueprint strings holding ${variables}, which are checked once resolved."""
    return isinstance(value, str) and "${" in value


# ---- shared checks ------------------------------------------------------------------------


def metadata_problems(obj: dict[str, Any], kind: str) -> list[Problem]:
    """metadata.name is present and a valid DNS-1123 name for ``kind``."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        return [Problem("metadata.name", "required field is missing")]
    name = metadata.get("name")
    if name is None or name == "":
        if _text(metadata.get("generateName")):
            return []
        return [Problem("metadata.name", "required field is missing")]
    if not isinstance(name, str):
        return []  # the schema reports the type
    problem = object_name_problem(name, kind)
    namespace = metadata.get("namespace")
    problems = [Problem("metadata.name", problem)] if problem else []
    if isinstance(namespace, str) and namespace and (why := label_name_problem(namespace)):
        problems.append(Problem("metadata.namespace", why))
    return problems


def duration_problems(value: Any, parts: Path) -> list[Problem]:
    """A duration string parses (see schemas.durations)."""
    if not isinstance(value, str) or _is_template(value):
        return []
    try:
        parse_duration(value)
    except ValueError:
        return [
            Problem(
                _path(parts),
                f'"{value}" is not a valid duration (use units y, mo, w, d, h, m, s,'
                " e.g. 30d12h30m)",
            )
        ]
    return []


def usage_policy_problems(spec: Any, parts: Path) -> list[Problem]:
    """usagePolicy from: Selector needs a selector."""
    allowed = _get(_get(spec, "usagePolicy"), "allowedNamespaces")
    if _get(allowed, "from") == "Selector" and not isinstance(_get(allowed, "selector"), dict):
        where = (*parts, "usagePolicy", "allowedNamespaces", "selector")
        return [Problem(_path(where), 'required when from is "Selector"')]
    return []


def _hook_problems(hooks: Any, keys: tuple[str, ...], parts: Path) -> list[Problem]:
    problems = []
    for key in keys:
        for index, hook in _items(_get(hooks, key)):
            where = (*parts, key, index, "timeout")
            problems += duration_problems(hook.get("timeout"), where)
    return problems


# ---- storage.kubestash.com ----------------------------------------------------------------


def backup_storage_problems(obj: dict[str, Any]) -> list[Problem]:
    """The provider's block is present; old and new secret field names agree."""
    spec = obj.get("spec")
    storage = _get(spec, "storage")
    provider = _get(storage, "provider")
    problems = usage_policy_problems(spec, ("spec",))
    if isinstance(provider, str) and provider and storage.get(provider) is None:
        problems.append(
            Problem(f"spec.storage.{provider}", f'required when provider is "{provider}"')
        )
    for block_name in ("s3", "gcs", "azure"):
        block = _get(storage, block_name)
        old, new = _get(block, "secret"), _get(block, "secretName")
        if _text(old) and _text(new) and old != new:
            problems.append(
                Problem(
                    f"spec.storage.{block_name}.secret",
                    f'"{old}" differs from secretName "{new}"; set only secretName'
                    " (secret is its old name)",
                )
            )
    return problems


def retention_policy_problems(obj: dict[str, Any]) -> list[Problem]:
    """At least one of maxRetentionPeriod or successfulSnapshots; the period parses."""
    spec = obj.get("spec")
    problems = usage_policy_problems(spec, ("spec",))
    if isinstance(spec, dict):
        if spec.get("maxRetentionPeriod") in (None, "") and spec.get("successfulSnapshots") is None:
            problems.append(
                Problem("spec", "set maxRetentionPeriod or successfulSnapshots (at least one)")
            )
        problems += duration_problems(
            spec.get("maxRetentionPeriod"), ("spec", "maxRetentionPeriod")
        )
    return problems


# ---- core.kubestash.com -------------------------------------------------------------------


def _storage_key(backend: dict[str, Any], namespace: Any) -> tuple[str, str] | None:
    storage_ref = backend.get("storageRef")
    name = _text(_get(storage_ref, "name"))
    if name is None:
        return None
    ref_namespace = _text(_get(storage_ref, "namespace")) or _text(namespace) or ""
    return (ref_namespace, name)


def _backend_problems(backends: Any, parts: Path) -> list[Problem]:
    problems = []
    seen: set[str] = set()
    for index, backend in _items(backends):
        name = backend.get("name")
        if isinstance(name, str) and name:
            if name in seen:
                problems.append(
                    Problem(_path((*parts, index, "name")), f'duplicate backend "{name}"')
                )
            seen.add(name)
        elif name is not None:
            problems.append(Problem(_path((*parts, index, "name")), "must not be empty"))
        if backend.get("storageRef") is None:
            problems.append(
                Problem(_path((*parts, index, "storageRef")), "required field is missing")
            )
    return problems


def _session_problems(
    session: dict[str, Any], parts: Path, backend_names: set[str]
) -> list[Problem]:
    """One session: scheduler, addon, tasks, repositories, durations."""
    problems: list[Problem] = []

    def at(*rest: Any) -> str:
        return _path((*parts, *rest))

    scheduler = session.get("scheduler")
    if scheduler is None:
        problems.append(Problem(at("scheduler"), "required field is missing"))
    schedule = _get(scheduler, "schedule")
    if isinstance(schedule, str) and not _is_template(schedule) and not is_valid_cron(schedule):
        problems.append(
            Problem(at("scheduler", "schedule"), f'"{schedule}" is not a valid cron expression')
        )
    addon = session.get("addon")
    if not _text(_get(addon, "name")):
        problems.append(Problem(at("addon", "name"), "required field is missing"))
    tasks = _get(addon, "tasks")
    if isinstance(addon, dict) and not any(_text(t.get("name")) for _, t in _items(tasks)):
        problems.append(Problem(at("addon", "tasks"), "needs at least one task with a name"))
    repositories = session.get("repositories")
    if not any(True for _ in _items(repositories)):
        problems.append(Problem(at("repositories"), "needs at least one repository"))
    seen: set[str] = set()
    for index, repository in _items(repositories):
        name = repository.get("name")
        if isinstance(name, str) and not _is_template(name):
            if (why := label_name_problem(name)) is not None:
                problems.append(Problem(at("repositories", index, "name"), why))
            elif name in seen:
                problems.append(
                    Problem(at("repositories", index, "name"), f'duplicate repository "{name}"')
                )
            seen.add(name)
        backend = repository.get("backend")
        if _text(backend) and backend_names and backend not in backend_names:
            declared = ", ".join(sorted(backend_names))
            problems.append(
                Problem(
                    at("repositories", index, "backend"),
                    f'"{backend}" is not one of the declared backends ({declared})',
                )
            )
        if repository.get("directory") == "":
            problems.append(Problem(at("repositories", index, "directory"), "must not be empty"))
    for key in ("backupTimeout", "timeout"):
        problems += duration_problems(session.get(key), (*parts, key))
    problems += duration_problems(
        _get(session.get("retryConfig"), "delay"), (*parts, "retryConfig", "delay")
    )
    problems += _hook_problems(session.get("hooks"), ("preBackup", "postBackup"), (*parts, "hooks"))
    return problems


def _directory_problems(spec: dict[str, Any], parts: Path, namespace: Any) -> list[Problem]:
    """No two repositories share a directory on one storage; one repository name, one place."""
    backends = {b.get("name"): b for _, b in _items(spec.get("backends")) if _text(b.get("name"))}
    owner_of_place: dict[tuple[Any, str], str] = {}
    place_of_name: dict[str, tuple[Any, str]] = {}
    problems = []
    for s_index, session in _items(spec.get("sessions")):
        for r_index, repository in _items(session.get("repositories")):
            name, directory = repository.get("name"), repository.get("directory")
            if not _text(name) or not _text(directory) or _is_template(name):
                continue
            if _is_template(directory):
                continue
            backend_name = _text(repository.get("backend"))
            if backend_name is None:
                storage: tuple[str, str] | None = ("", "<default backend>")
            elif backend_name in backends:
                storage = _storage_key(backends[backend_name], namespace)
            else:
                continue  # an undeclared backend is reported on its own
            if storage is None:
                continue
            place = (storage, directory.strip("/"))
            where = _path((*parts, "sessions", s_index, "repositories", r_index, "directory"))
            other = owner_of_place.setdefault(place, name)
            if other != name:
                problems.append(
                    Problem(
                        where,
                        f'"{directory}" on storage "{storage[1]}" is already used by repository'
                        f' "{other}"',
                    )
                )
            known = place_of_name.setdefault(name, place)
            if known != place:
                problems.append(
                    Problem(
                        where,
                        f'repository "{name}" is declared elsewhere with another'
                        " backend or directory",
                    )
                )
    return problems


def _configuration_problems(spec: Any, parts: Path, namespace: Any) -> list[Problem]:
    """The cross-field rules shared by BackupConfiguration and BackupBlueprint templates."""
    if not isinstance(spec, dict):
        return []
    backends = spec.get("backends")
    problems = _backend_problems(backends, (*parts, "backends"))
    backend_names = {b["name"] for _, b in _items(backends) if _text(b.get("name"))}
    sessions = spec.get("sessions")
    if not any(True for _ in _items(sessions)):
        problems.append(Problem(_path((*parts, "sessions")), "needs at least one session"))
    seen: set[str] = set()
    for index, session in _items(sessions):
        name = session.get("name")
        where = _path((*parts, "sessions", index, "name"))
        if name is None or name == "":
            problems.append(Problem(where, "required field is missing"))
        elif isinstance(name, str) and not _is_template(name):
            if (why := label_name_problem(name)) is not None:
                problems.append(Problem(where, why))
            elif name in seen:
                problems.append(Problem(where, f'duplicate session "{name}"'))
            seen.add(name)
        problems += _session_problems(session, (*parts, "sessions", index), backend_names)
    return problems + _directory_problems(spec, parts, namespace)


def backup_configuration_problems(obj: dict[str, Any]) -> list[Problem]:
    """Backends, sessions, repositories (reference §1.5 webhook validation)."""
    spec = obj.get("spec")
    namespace = _get(obj.get("metadata"), "namespace")
    problems = _configuration_problems(spec, ("spec",), namespace)
    target_namespace = _get(_get(spec, "target"), "namespace")
    if _text(target_namespace) and _text(namespace) and target_namespace != namespace:
        problems.append(
            Problem(
                "spec.target.namespace",
                f'"{target_namespace}" must be the BackupConfiguration\'s own namespace'
                f' "{namespace}"',
            )
        )
    return problems


def backup_blueprint_problems(obj: dict[str, Any]) -> list[Problem]:
    """The template follows the BackupConfiguration rules (${variables} are checked later)."""
    spec = obj.get("spec")
    template = _get(spec, "backupConfigurationTemplate")
    namespace = _get(template, "namespace") or _get(obj.get("metadata"), "namespace")
    parts = ("spec", "backupConfigurationTemplate")
    return usage_policy_problems(spec, ("spec",)) + _configuration_problems(
        template, parts, namespace
    )


def backup_session_problems(obj: dict[str, Any]) -> list[Problem]:
    """Timeouts parse."""
    spec = obj.get("spec")
    problems = []
    for key in ("backupTimeout", "timeout"):
        problems += duration_problems(_get(spec, key), ("spec", key))
    return problems


def restore_session_problems(obj: dict[str, Any]) -> list[Problem]:
    """snapshot unless pitr; latest needs repository; pitr needs targetTime and repository."""
    spec = obj.get("spec")
    source = _get(spec, "dataSource")
    problems = []
    if isinstance(source, dict):
        pitr = source.get("pitr")
        repository = _text(source.get("repository"))
        if pitr is not None:
            if not _text(_get(pitr, "targetTime")):
                problems.append(Problem("spec.dataSource.pitr.targetTime", "required with pitr"))
            if repository is None:
                problems.append(Problem("spec.dataSource.repository", "required with pitr"))
        else:
            snapshot = source.get("snapshot")
            if not _text(snapshot):
                problems.append(
                    Problem(
                        "spec.dataSource.snapshot",
                        'required (a Snapshot name or "latest") unless pitr is set',
                    )
                )
            elif snapshot == "latest" and repository is None:
                problems.append(
                    Problem("spec.dataSource.repository", 'required when snapshot is "latest"')
                )
    for key in ("restoreTimeout", "timeout"):
        problems += duration_problems(_get(spec, key), ("spec", key))
    return problems + _hook_problems(
        _get(spec, "hooks"), ("preRestore", "postRestore"), ("spec", "hooks")
    )


# ---- appcatalog.appscode.com --------------------------------------------------------------


def app_binding_problems(obj: dict[str, Any]) -> list[Problem]:
    """clientConfig names a url or a service."""
    config = _get(obj.get("spec"), "clientConfig")
    if isinstance(config, dict) and not _text(config.get("url")) and config.get("service") is None:
        return [Problem("spec.clientConfig", "set url or service")]
    return []


RULES_BY_KIND: dict[str, Rule] = {
    "BackupStorage": backup_storage_problems,
    "RetentionPolicy": retention_policy_problems,
    "BackupConfiguration": backup_configuration_problems,
    "BackupBlueprint": backup_blueprint_problems,
    "BackupSession": backup_session_problems,
    "RestoreSession": restore_session_problems,
    "AppBinding": app_binding_problems,
}


def semantic_problems(obj: dict[str, Any], kind: str) -> list[Problem]:
    """Every semantic rule for an object of ``kind``, metadata rules included."""
    rule = RULES_BY_KIND.get(kind)
    return metadata_problems(obj, kind) + (rule(obj) if rule else [])
