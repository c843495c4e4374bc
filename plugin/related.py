"""Which of the given objects a customize hook's `relatedResources` rules select, keyed the way
a v2 sync request carries them (`Kind.apiVersion` → `namespace/name`).

This is Metacontroller's matching for a parent offline: `names`, `namespace`, `labelSelector`
and `namespaceSelector` (Namespace labels plus `kubernetes.io/metadata.name`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def resource_of(kind: str) -> str:
    """The plural resource name of a kind, guessed as the API machinery's
    `UnsafeGuessKindToResource` does (all kinds here have regular plurals)."""
    lower = kind.lower()
    if lower.endswith("s"):
        return lower + "es"
    if lower.endswith("y") and lower[-2:-1] not in ("a", "e", "i", "o", "u"):
        return lower[:-1] + "ies"
    return lower + "s"


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A label selector (`matchLabels`, `matchExpressions`) against labels; empty matches all."""
    if not selector:
        return True
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, values = expression.get("key"), expression.get("values") or []
        operator = expression.get("operator")
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def _namespace_labels(objects: Sequence[dict[str, Any]]) -> dict[str, dict[str, str]]:
    labels = {}
    for obj in objects:
        if obj.get("kind") == "Namespace" and obj.get("apiVersion") == "v1":
            name = obj["metadata"]["name"]
            labels[name] = {
                **(obj["metadata"].get("labels") or {}),
                "kubernetes.io/metadata.name": name,
            }
    return labels


def _matches(
    rule: Mapping[str, Any], obj: dict[str, Any], namespaces: dict[str, dict[str, str]]
) -> bool:
    if obj.get("apiVersion") != rule.get("apiVersion") or resource_of(
        str(obj.get("kind"))
    ) != rule.get("resource"):
        return False
    meta = obj.get("metadata") or {}
    namespace = str(meta.get("namespace") or "")
    if rule.get("namespace") and namespace != rule["namespace"]:
        return False
    if rule.get("namespaceSelector") is not None and not selector_matches(
        rule["namespaceSelector"],
        namespaces.get(namespace, {"kubernetes.io/metadata.name": namespace}),
    ):
        return False
    if rule.get("names") is not None:
        return meta.get("name") in rule["names"]
    return selector_matches(rule.get("labelSelector"), meta.get("labels") or {})


def gather(
    rules: Sequence[Mapping[str, Any]], objects: Sequence[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The `related` map of a v2 sync request: every rule's type present, even when empty."""
    namespaces = _namespace_labels(objects)
    related: dict[str, dict[str, Any]] = {}
    for rule in rules:
        bucket = related.setdefault(f"{_kind_of(rule, objects)}.{rule['apiVersion']}", {})
        for obj in objects:
            if _matches(rule, obj, namespaces):
                meta = obj["metadata"]
                key = (
                    f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]
                )
                bucket[key] = obj
    return related


def _kind_of(rule: Mapping[str, Any], objects: Sequence[dict[str, Any]]) -> str:
    """The kind a rule's resource names: from a matching object, else the singular guessed back
    (only the map key of an empty group depends on it)."""
    for obj in objects:
        if obj.get("apiVersion") == rule.get("apiVersion") and resource_of(
            str(obj.get("kind"))
        ) == rule.get("resource"):
            return str(obj["kind"])
    return KNOWN_KINDS.get(str(rule.get("resource")), str(rule.get("resource")))


# Kinds the hooks ask about, by resource, for rules that match nothing in the given files.
KNOWN_KINDS = {
    resource_of(kind): kind
    for kind in (
        "Addon",
        "AppBinding",
        "BackupBlueprint",
        "BackupConfiguration",
        "BackupSession",
        "BackupStorage",
        "CronJob",
        "Function",
        "Job",
        "Namespace",
        "Pod",
        "Repository",
        "RestoreSession",
        "RetentionPolicy",
        "Secret",
        "Snapshot",
    )
}
