"""Kubernetes label selectors (and Metacontroller's annotation selectors) as predicates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class SelectorError(ValueError):
    """A selector that the API server would reject."""


def _expression_matches(values: Mapping[str, str], expression: Mapping[str, Any]) -> bool:
    key = expression.get("key")
    operator = expression.get("operator")
    wanted = expression.get("values") or []
    if operator == "In":
        return key in values and values[key] in wanted
    if operator == "NotIn":
        return key not in values or values[key] not in wanted
    if operator == "Exists":
        return key in values
    if operator == "DoesNotExist":
        return key not in values
    raise SelectorError(f'"{operator}" is not a valid selector operator (key "{key}")')


def matches(
    selector: Mapping[str, Any] | None, values: Mapping[str, str] | None, exact_key: str
) -> bool:
    """Whether `values` (labels or annotations) satisfy `selector`.

    `exact_key` is `matchLabels` or `matchAnnotations`. An empty selector matches everything;
    a missing (None) selector matches everything too, as Metacontroller treats it.
    """
    if not selector:
        return True
    values = values or {}
    for key, value in (selector.get(exact_key) or {}).items():
        if values.get(key) != value:
            return False
    return all(_expression_matches(values, e) for e in selector.get("matchExpressions") or [])


def labels_match(selector: Mapping[str, Any] | None, obj: Mapping[str, Any]) -> bool:
    """Whether the object's labels satisfy a label selector."""
    return matches(selector, obj.get("metadata", {}).get("labels"), "matchLabels")


def annotations_match(selector: Mapping[str, Any] | None, obj: Mapping[str, Any]) -> bool:
    """Whether the object's annotations satisfy a Metacontroller annotation selector."""
    return matches(selector, obj.get("metadata", {}).get("annotations"), "matchAnnotations")
