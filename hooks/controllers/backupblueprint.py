"""Auto-backup: a DecoratorController on AppBindings annotated ``blueprint.kubestash.com/name``
attaches BackupConfiguration ``appbinding-<db>`` built from the BackupBlueprint's template with
``${var}`` taken from ``variables.kubestash.com/<var>`` annotations (reference §1.8, §2).

A missing blueprint means no BackupConfiguration (KubeStash's ``OnDelete``: it goes with the
blueprint). A template that cannot be completed (an unset variable, a namespace the blueprint's
usagePolicy denies, an invalid result) keeps whatever is attached as it is.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping
from typing import Any

from hooks import names, usage, validity
from hooks.protocol import (
    SyncRequest,
    customize_response,
    decorator_response,
    observed_as_desired,
    related_rule,
)
from schemas.validation import validate

CORE_API = "core.kubestash.com/v1alpha1"
APPBINDING_API = "appcatalog.appscode.com/v1alpha1"
ANNOTATION_NAME = "blueprint.kubestash.com/name"
ANNOTATION_NAMESPACE = "blueprint.kubestash.com/namespace"
ANNOTATION_SESSIONS = "blueprint.kubestash.com/session-names"
VARIABLE_PREFIX = "variables.kubestash.com/"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

log = logging.getLogger("zkstash.hooks.backupblueprint")


class TemplateError(ValueError):
    """The blueprint cannot be turned into a BackupConfiguration for this target."""


def _annotations(request: SyncRequest) -> dict[str, str]:
    return dict((request.parent.get("metadata") or {}).get("annotations") or {})


def _blueprint_ref(request: SyncRequest) -> tuple[str, str]:
    annotations = _annotations(request)
    return (
        str(annotations.get(ANNOTATION_NAMESPACE) or request.namespace),
        str(annotations.get(ANNOTATION_NAME) or ""),
    )


def customize(request: SyncRequest) -> dict[str, Any]:
    """Related: the named BackupBlueprint and the AppBinding's Namespace (usage selectors)."""
    namespace, name = _blueprint_ref(request)
    return customize_response(
        [
            related_rule(CORE_API, "backupblueprints", namespace=namespace, names=[name]),
            related_rule("v1", "namespaces", names=[request.namespace]),
        ]
    )


def variables(request: SyncRequest) -> dict[str, str]:
    """``${var}`` values: the target's namespace and name, then the annotations (which win)."""
    values = {"namespace": request.namespace, "targetName": request.name}
    for key, value in _annotations(request).items():
        if key.startswith(VARIABLE_PREFIX):
            values[key.removeprefix(VARIABLE_PREFIX)] = str(value)
    return values


def substitute(value: Any, values: Mapping[str, str], path: str) -> Any:
    """``value`` with every ``${var}`` in its strings replaced; TemplateError names the field."""
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            if match.group(1) not in values:
                raise TemplateError(
                    f"{path}: variable ${{{match.group(1)}}} has no annotation "
                    f"{VARIABLE_PREFIX}{match.group(1)} on the AppBinding"
                )
            return values[match.group(1)]

        return _VARIABLE.sub(replace, value)
    if isinstance(value, list):
        return [substitute(item, values, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {k: substitute(v, values, f"{path}.{k}") for k, v in value.items()}
    return value


def backup_configuration(request: SyncRequest, blueprint: Mapping[str, Any]) -> dict[str, Any]:
    """The BackupConfiguration the blueprint yields for this AppBinding."""
    blueprint_meta = blueprint.get("metadata") or {}
    where = f"BackupBlueprint {blueprint_meta.get('namespace')}/{blueprint_meta.get('name')}"
    labels = dict((_namespace(request).get("metadata") or {}).get("labels") or {})
    if not usage.allows(blueprint, request.namespace, labels):
        raise TemplateError(f"{where}: {usage.denial(blueprint, request.namespace)}")
    template = copy.deepcopy((blueprint.get("spec") or {}).get("backupConfigurationTemplate") or {})
    if template.get("namespace") and template["namespace"] != request.namespace:
        raise TemplateError(
            f"{where}: spec.backupConfigurationTemplate.namespace: must be the AppBinding's "
            f"namespace {request.namespace!r} (attachments live beside their target)"
        )
    values = variables(request)
    base = f"{where}: spec.backupConfigurationTemplate"
    backends = substitute(template.get("backends") or [], values, f"{base}.backends")
    sessions = substitute(template.get("sessions") or [], values, f"{base}.sessions")
    wanted = _annotations(request).get(ANNOTATION_SESSIONS)
    if wanted:
        keep = {s.strip() for s in wanted.split(",") if s.strip()}
        sessions = [s for s in sessions if isinstance(s, Mapping) and s.get("name") in keep]
    app_ref = dict((request.parent.get("spec") or {}).get("appRef") or {})
    target = {
        "apiGroup": str(app_ref.get("apiGroup") or "kubedb.com"),
        "kind": str(app_ref.get("kind") or "ZooKeeper"),
        "name": str(app_ref.get("name") or request.name),
        "namespace": str(app_ref.get("namespace") or request.namespace),
    }
    return {
        "apiVersion": CORE_API,
        "kind": "BackupConfiguration",
        "metadata": {
            "name": names.auto_backup_configuration_name("AppBinding", request.name),
            "namespace": request.namespace,
            "labels": {
                names.LABEL_MANAGED_BY: names.MANAGED_BY,
                names.LABEL_INVOKER_NAME: str(blueprint_meta.get("name")),
                names.LABEL_INVOKER_NAMESPACE: str(blueprint_meta.get("namespace")),
            },
        },
        "spec": {"target": target, "backends": backends, "sessions": sessions},
    }


def _namespace(request: SyncRequest) -> dict[str, Any]:
    return request.related.get("Namespace", "v1", request.namespace, namespace="") or {}


def sync(request: SyncRequest) -> dict[str, Any]:
    """The attached BackupConfiguration (or none when the blueprint is gone).

    The AppBinding's status belongs to KubeDB, so what keeps the attachment as it is (an
    invalid AppBinding or blueprint, a template that cannot be completed) goes to the log."""
    found = validity.loose_problems(request.parent, "AppBinding", APPBINDING_API)
    if found:
        log.warning(
            "AppBinding %s/%s: %s", request.namespace, request.name, validity.summary(found)
        )
        return decorator_response(observed_as_desired(request.children))
    namespace, name = _blueprint_ref(request)
    blueprint = request.related.get("BackupBlueprint", CORE_API, name, namespace)
    rejected = request.related.rejection("BackupBlueprint", CORE_API, name, namespace)
    if rejected is not None:
        # A blueprint of a wrong shape is still there: keep what it made (a missing one
        # takes its BackupConfiguration with it, as KubeStash's OnDelete does).
        log.warning("AppBinding %s/%s: %s", request.namespace, request.name, rejected)
        return decorator_response(observed_as_desired(request.children))
    if blueprint is None:
        return decorator_response([])
    try:
        desired = backup_configuration(request, blueprint)
    except TemplateError as problem:
        log.warning("AppBinding %s/%s: %s", request.namespace, request.name, problem)
        return decorator_response(observed_as_desired(request.children))
    problems = validate(desired)
    if problems:
        log.warning(
            "AppBinding %s/%s: blueprint yields an invalid BackupConfiguration: %s",
            request.namespace,
            request.name,
            "; ".join(map(str, problems)),
        )
        return decorator_response(observed_as_desired(request.children))
    return decorator_response([desired])
