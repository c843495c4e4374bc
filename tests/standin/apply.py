"""Metacontroller's dynamic apply: a 3-way merge of observed, last-applied and desired objects.

Written by hand because it reproduces Metacontroller's own merge (pkg/dynamic/apply) rather than
Kubernetes' strategic merge: lists of objects sharing a known key are merged by that key, other
lists are replaced, fields dropped from the desired object since the last apply are removed.
"""

from __future__ import annotations

import copy
import json
from typing import Any

LAST_APPLIED = "metacontroller.k8s.io/last-applied-configuration"

# Keys by which Metacontroller merges lists of objects, in its order of preference.
_LIST_MERGE_KEYS = ("containerPort", "port", "mountPath", "name", "uid", "ip", "path")

_SYSTEM_METADATA = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
    "ownerReferences",
    "finalizers",
)


def with_last_applied(desired: dict[str, Any]) -> dict[str, Any]:
    """`desired` carrying its own JSON in the last-applied annotation (done before a create)."""
    result = copy.deepcopy(desired)
    annotations = result.setdefault("metadata", {}).setdefault("annotations", {})
    annotations.pop(LAST_APPLIED, None)
    annotations[LAST_APPLIED] = json.dumps(
        _without_last_applied(desired), sort_keys=True, separators=(",", ":")
    )
    return result


def _without_last_applied(obj: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(obj)
    annotations = result.get("metadata", {}).get("annotations")
    if annotations is not None:
        annotations.pop(LAST_APPLIED, None)
        if not annotations:
            result["metadata"].pop("annotations")
    return result


def last_applied_of(observed: dict[str, Any]) -> dict[str, Any]:
    """The desired object of the previous apply, read back from the annotation."""
    text = observed.get("metadata", {}).get("annotations", {}).get(LAST_APPLIED)
    return json.loads(text) if text else {}


def apply(observed: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    """The object Metacontroller would write to bring `observed` to `desired`.

    System metadata and the whole status are reverted to the observed values: Metacontroller
    never writes a child's status.
    """
    merged = _merge(copy.deepcopy(observed), last_applied_of(observed), with_last_applied(desired))
    for field in _SYSTEM_METADATA:
        if field in observed.get("metadata", {}):
            merged["metadata"][field] = copy.deepcopy(observed["metadata"][field])
        else:
            merged["metadata"].pop(field, None)
    if "status" in observed:
        merged["status"] = copy.deepcopy(observed["status"])
    else:
        merged.pop("status", None)
    return merged


def _merge(observed: Any, last: Any, desired: Any) -> Any:
    if isinstance(desired, dict) and isinstance(observed, dict):
        last = last if isinstance(last, dict) else {}
        result = dict(observed)
        for key in last:
            if key not in desired:
                result.pop(key, None)
        for key, value in desired.items():
            result[key] = _merge(observed.get(key), last.get(key), value)
        return result
    if isinstance(desired, list) and isinstance(observed, list):
        merge_key = _list_merge_key(desired, observed)
        if merge_key is not None:
            return _merge_list(observed, last if isinstance(last, list) else [], desired, merge_key)
    return copy.deepcopy(desired)


def _list_merge_key(*lists: list[Any]) -> str | None:
    items = [item for lst in lists for item in lst]
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for key in _LIST_MERGE_KEYS:
        if all(key in i for i in items):
            return key
    return None


def _merge_list(
    observed: list[dict[str, Any]],
    last: list[dict[str, Any]],
    desired: list[dict[str, Any]],
    key: str,
) -> list[dict[str, Any]]:
    observed_by_key = {i[key]: i for i in observed}
    last_by_key = {i.get(key): i for i in last if isinstance(i, dict)}
    desired_keys = {i[key] for i in desired}
    result = [
        _merge(observed_by_key.get(i[key], {}), last_by_key.get(i[key], {}), i) for i in desired
    ]
    # items someone else added (not in last-applied) survive; ones we dropped are removed
    result += [i for i in observed if i[key] not in desired_keys and i[key] not in last_by_key]
    return result
