"""Structural-schema pruning and validation, as the API server applies them to custom resources.

Hand-written because no library implements Kubernetes' pruning rules
(`x-kubernetes-preserve-unknown-fields`, `x-kubernetes-embedded-resource`); validation itself is
delegated to jsonschema.
"""

from __future__ import annotations

from typing import Any

import jsonschema

_KEEP_ALWAYS = ("apiVersion", "kind", "metadata")


def prune(value: Any, schema: dict[str, Any] | None) -> Any:
    """A copy of `value` without the fields that `schema` does not declare."""
    if schema is None:
        return value
    if isinstance(value, dict):
        return _prune_object(value, schema)
    if isinstance(value, list):
        items = schema.get("items")
        return [prune(v, items) if isinstance(items, dict) else v for v in value]
    return value


def _prune_object(value: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    embedded = bool(schema.get("x-kubernetes-embedded-resource"))
    properties = schema.get("properties")
    additional = schema.get("additionalProperties")
    result: dict[str, Any] = {}
    for key, item in value.items():
        if embedded and key in _KEEP_ALWAYS:
            result[key] = item
        elif properties is not None and key in properties:
            result[key] = prune(item, properties[key])
        elif isinstance(additional, dict):
            result[key] = prune(item, additional)
        elif preserve or additional is True:
            result[key] = item
    return result


def prune_resource(obj: dict[str, Any], schema: dict[str, Any] | None) -> dict[str, Any]:
    """Prune a whole custom resource; apiVersion, kind and metadata are never pruned."""
    if schema is None:
        return obj
    body = {k: v for k, v in obj.items() if k not in _KEEP_ALWAYS}
    pruned = _prune_object(body, schema)
    return {**{k: obj[k] for k in _KEEP_ALWAYS if k in obj}, **pruned}


def dropped_paths(before: Any, after: Any, path: str = "") -> list[str]:
    """Field paths present in `before` but gone from `after` (what pruning removed)."""
    if isinstance(before, dict) and isinstance(after, dict):
        found: list[str] = []
        for key, item in before.items():
            where = f"{path}.{key}" if path else key
            if key not in after:
                found.append(where)
            else:
                found.extend(dropped_paths(item, after[key], where))
        return found
    if isinstance(before, list) and isinstance(after, list):
        found = []
        for index, (b, a) in enumerate(zip(before, after, strict=False)):
            found.extend(dropped_paths(b, a, f"{path}[{index}]"))
        return found
    return []


def schema_errors(value: Any, schema: dict[str, Any] | None, path: str) -> list[str]:
    """Validation errors of `value` against an openAPIV3Schema, each naming its field path."""
    if schema is None:
        return []
    validator = jsonschema.Draft202012Validator(_nullable_to_jsonschema(schema))
    messages = []
    for error in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path)):
        where = path + "".join(
            f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path
        )
        messages.append(f"{where}: {error.message}")
    return messages


def _nullable_to_jsonschema(schema: Any) -> Any:
    """openAPI's `nullable: true` becomes an explicit null type for jsonschema."""
    if isinstance(schema, list):
        return [_nullable_to_jsonschema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {k: _nullable_to_jsonschema(v) for k, v in schema.items()}
    if schema.get("nullable") and isinstance(schema.get("type"), str):
        converted["type"] = [schema["type"], "null"]
    if schema.get("x-kubernetes-int-or-string"):
        converted.pop("type", None)
    return converted
