"""Who may use a BackupStorage / RetentionPolicy: ``usagePolicy.allowedNamespaces`` and the
default lookup order of KubeStash (reference §6)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def _selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A Kubernetes LabelSelector against a label set (an empty selector matches all)."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or ():
        key, operator = expression.get("key"), expression.get("operator")
        values = list(expression.get("values") or ())
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


def allowed_from(obj: Mapping[str, Any]) -> str:
    """``usagePolicy.allowedNamespaces.from`` of an object (Same when unset, as the webhook)."""
    policy = ((obj.get("spec") or {}).get("usagePolicy") or {}).get("allowedNamespaces") or {}
    return str(policy.get("from") or "Same")


def allows(obj: Mapping[str, Any], namespace: str, namespace_labels: Mapping[str, str]) -> bool:
    """Whether ``namespace`` may use ``obj`` under its usagePolicy."""
    policy = ((obj.get("spec") or {}).get("usagePolicy") or {}).get("allowedNamespaces") or {}
    source = allowed_from(obj)
    own_namespace = (obj.get("metadata") or {}).get("namespace")
    if source == "All":
        return True
    if source == "Same":
        return own_namespace == namespace
    if source == "Selector":
        labels = {"kubernetes.io/metadata.name": namespace, **namespace_labels}
        return bool(policy.get("selector")) and _selector_matches(policy.get("selector"), labels)
    return False


def denial(obj: Mapping[str, Any], namespace: str) -> str:
    """Why ``namespace`` may not use ``obj``: one sentence naming both."""
    meta = obj.get("metadata") or {}
    return (
        f"{obj.get('kind')} {meta.get('namespace')}/{meta.get('name')} does not allow namespace "
        f"{namespace!r} (usagePolicy.allowedNamespaces.from: {allowed_from(obj)})"
    )


def default_for(
    candidates: Iterable[Mapping[str, Any]], namespace: str, namespace_labels: Mapping[str, str]
) -> dict[str, Any] | None:
    """The default object for a namespace: same-namespace ``Same``, then ``Selector``, then
    ``All`` (KubeStash's order); ties broken by (namespace, name)."""
    defaults: Sequence[Mapping[str, Any]] = sorted(
        (c for c in candidates if (c.get("spec") or {}).get("default") is True),
        key=lambda c: (
            str((c.get("metadata") or {}).get("namespace")),
            str((c.get("metadata") or {}).get("name")),
        ),
    )
    for source in ("Same", "Selector", "All"):
        for candidate in defaults:
            if allowed_from(candidate) == source and allows(candidate, namespace, namespace_labels):
                return dict(candidate)
    return None
