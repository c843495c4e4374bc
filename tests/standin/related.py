"""Customize-hook rules: which related objects a parent sees, keyed as the sync hook expects."""

from __future__ import annotations

from typing import Any

from tests.standin.kinds import KindRegistry, ResourceType
from tests.standin.selectors import labels_match
from tests.standin.store import Store


class RelatedRuleError(ValueError):
    """A relatedResources rule Metacontroller would reject."""


def check_rule(rule: Any, index: int) -> dict[str, Any]:
    """Validate one relatedResources rule (combinations the protocol forbids are errors)."""
    where = f"relatedResources[{index}]"
    if not isinstance(rule, dict) or not rule.get("apiVersion") or not rule.get("resource"):
        raise RelatedRuleError(f"{where}: apiVersion and resource are required")
    if rule.get("names") is not None and (
        rule.get("labelSelector") is not None or rule.get("namespaceSelector") is not None
    ):
        raise RelatedRuleError(f"{where}: names cannot be combined with a selector")
    if rule.get("namespace") and rule.get("namespaceSelector") is not None:
        raise RelatedRuleError(f"{where}: namespace cannot be combined with namespaceSelector")
    return rule


def object_key(obj: dict[str, Any], rtype: ResourceType, version: str, parent_ns: str) -> str:
    """The inner map key of an observed object (protocol §2.2)."""
    metadata = obj["metadata"]
    if not rtype.namespaced:
        return metadata["name"]
    if version == "v1" and parent_ns:
        return metadata["name"]
    return f"{metadata['namespace']}/{metadata['name']}"


def rule_matches(
    rule: dict[str, Any],
    rtype: ResourceType,
    obj: dict[str, Any],
    parent_ns: str,
    version: str,
    namespace_labels: dict[str, dict[str, str]],
) -> bool:
    """Whether `obj` (of `rtype`) is selected by the rule for a parent in `parent_ns`."""
    metadata = obj["metadata"]
    if rtype.namespaced:
        namespace = metadata.get("namespace", "")
        if rule.get("namespace"):
            if namespace != rule["namespace"]:
                return False
        elif rule.get("namespaceSelector") is not None:
            if parent_ns and version == "v1":
                return False
            labels = {"metadata": {"labels": namespace_labels.get(namespace, {})}}
            if not labels_match(rule["namespaceSelector"], labels):
                return False
        # Without namespace or namespaceSelector, a v2 rule looks in every namespace (the
        # informer's List across namespaces); only v1 keeps a namespaced parent to its own.
        if version == "v1" and parent_ns and namespace != parent_ns:
            return False
    elif version == "v1" and parent_ns:
        return False  # v1 with a namespaced parent drops cluster-scoped related objects
    if rule.get("names") is not None:
        return metadata["name"] in rule["names"]
    return labels_match(rule.get("labelSelector"), obj)


def gather_related(
    store: Store,
    kinds: KindRegistry,
    rules: list[dict[str, Any]],
    parent_ns: str,
    version: str,
) -> dict[str, dict[str, Any]]:
    """The `related` map of a sync request: every rule's type present, even when empty."""
    namespace_labels = {
        ns["metadata"]["name"]: ns["metadata"].get("labels") or {}
        for ns in store.list("v1", "Namespace")
    }
    namespace_labels = {
        name: {**labels, "kubernetes.io/metadata.name": name}
        for name, labels in namespace_labels.items()
    }
    related: dict[str, dict[str, Any]] = {}
    for rule in rules:
        rtype = kinds.by_resource(rule["apiVersion"], rule["resource"])
        type_key = f"{rtype.kind}.{rule['apiVersion']}"
        bucket = related.setdefault(type_key, {})
        for obj in store.list(rtype.api_version, rtype.kind):
            if rule_matches(rule, rtype, obj, parent_ns, version, namespace_labels):
                bucket[object_key(obj, rtype, version, parent_ns)] = obj
    return related
