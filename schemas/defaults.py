"""KubeStash defaulting: what the API server (CRD defaults) and KubeStash's mutating webhooks
would fill in before a controller sees an object.

``with_defaults`` is pure: it returns a new object and never changes its argument. It tolerates
any shape (it only fills in where the shape is right), so it is safe to call before validation.
"""

import copy
from typing import Any

from schemas.registry import kind_for

_PROVIDER_BLOCKS = ("s3", "gcs", "azure")
# Fields KubeStash's BackupStorage webhook strips a trailing "/" from.
_SLASH_TRIMMED_FIELDS = ("endpoint", "bucket", "prefix")
_SAME_NAMESPACE_POLICY = {"allowedNamespaces": {"from": "Same"}}


def with_defaults(obj: Any) -> Any:
    """Return a copy of ``obj`` with KubeStash's defaults applied.

    Applied in this order:
    1. old field names mapped to new ones: backend ``secret`` → ``secretName``; session
       ``timeout`` → ``backupTimeout``; RestoreSession ``timeout`` → ``restoreTimeout``;
       status ``deadline`` → ``backupDeadline``/``restoreDeadline`` (the new name wins when both
       are set);
    2. webhook defaults: ``usagePolicy`` ``{allowedNamespaces: {from: Same}}`` on BackupStorage,
       RetentionPolicy and BackupBlueprint; RetentionPolicy ``failedSnapshots`` ``{last: 1}``;
       trailing ``/`` stripped from backend ``endpoint``, ``bucket`` and ``prefix``;
    3. the schema defaults the API server applies (deletionPolicy Delete, sessionHistoryLimit 1,
       retryConfig.maxRetry 1, scheduler history limits 3/1, usagePolicy from Same, …).

    Objects of kinds we do not serve come back as an unchanged copy.
    """
    result = copy.deepcopy(obj)
    if not isinstance(result, dict):
        return result
    served = kind_for(result.get("apiVersion"), result.get("kind"))
    if served is None:
        return result
    _rename_old_fields(served.kind, result)
    _apply_webhook_defaults(served.kind, result)
    apply_schema_defaults(result, served.object_schema)
    return result


def apply_schema_defaults(value: Any, schema: dict[str, Any]) -> None:
    """Fill in ``default`` values from ``schema`` in place, the way the API server does:
    only for absent fields whose parent object exists."""
    if isinstance(value, dict):
        for name, prop in schema.get("properties", {}).items():
            if name not in value and "default" in prop:
                value[name] = copy.deepcopy(prop["default"])
            if name in value:
                apply_schema_defaults(value[name], prop)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for item in value.values():
                apply_schema_defaults(item, extra)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            apply_schema_defaults(item, schema["items"])


def _dict_at(obj: Any, *keys: str) -> dict[str, Any] | None:
    """The dict found by following ``keys`` from ``obj``, or None if the path is not all dicts."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj if isinstance(obj, dict) else None


def _dicts_in(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _rename(parent: dict[str, Any] | None, old: str, new: str) -> None:
    if parent is not None and old in parent:
        old_value = parent.pop(old)
        parent.setdefault(new, old_value)


def _sessions(kind: str, obj: dict[str, Any]) -> list[dict[str, Any]]:
    if kind == "BackupConfiguration":
        return _dicts_in((_dict_at(obj, "spec") or {}).get("sessions"))
    if kind == "BackupBlueprint":
        template = _dict_at(obj, "spec", "backupConfigurationTemplate") or {}
        return _dicts_in(template.get("sessions"))
    return []


def _rename_old_fields(kind: str, obj: dict[str, Any]) -> None:
    for provider in _PROVIDER_BLOCKS:
        _rename(_dict_at(obj, "spec", "storage", provider), "secret", "secretName")
    for session in _sessions(kind, obj):
        _rename(session, "timeout", "backupTimeout")
    if kind == "BackupSession":
        _rename(_dict_at(obj, "spec"), "timeout", "backupTimeout")
        _rename(_dict_at(obj, "status"), "deadline", "backupDeadline")
    if kind == "RestoreSession":
        _rename(_dict_at(obj, "spec"), "timeout", "restoreTimeout")
        _rename(_dict_at(obj, "status"), "deadline", "restoreDeadline")


def _apply_webhook_defaults(kind: str, obj: dict[str, Any]) -> None:
    spec = _dict_at(obj, "spec")
    if spec is None:
        return
    if kind in ("BackupStorage", "RetentionPolicy", "BackupBlueprint"):
        spec.setdefault("usagePolicy", copy.deepcopy(_SAME_NAMESPACE_POLICY))
    if kind == "RetentionPolicy":
        spec.setdefault("failedSnapshots", {"last": 1})
    if kind == "BackupStorage":
        for provider in _PROVIDER_BLOCKS:
            block = _dict_at(spec, "storage", provider)
            for name in _SLASH_TRIMMED_FIELDS:
                if block is not None and isinstance(block.get(name), str):
                    block[name] = block[name].rstrip("/")


__all__ = ["apply_schema_defaults", "with_defaults"]
