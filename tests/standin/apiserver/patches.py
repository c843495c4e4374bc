"""PATCH bodies applied to a stored object: JSON merge, JSON patch and strategic merge.

- `application/merge-patch+json` (RFC 7386) — written out below: it is ten lines, and
  Kubernetes' own semantics (null deletes, lists replace) are exactly the RFC's.
- `application/json-patch+json` (RFC 6902) — the `jsonpatch` library.
- `application/strategic-merge-patch+json` — only the subset `kubectl apply`/`kubectl patch`
  send for built-in kinds: a merge patch where lists of objects that all carry a `name` are
  merged by name (the merge key of containers, env, volumes, ports…), other lists replace,
  and the directives `$patch`, `$retainKeys`, `$setElementOrder/…` and
  `$deleteFromPrimitiveList/…` are honoured. The real server reads per-field merge keys from
  the Go types; the stand-in has no such table, so lists merged on another key (e.g.
  ownerReferences on uid) replace instead.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
PATCH_TYPES = (MERGE_PATCH, JSON_PATCH, STRATEGIC_MERGE_PATCH)

_SET_ORDER = "$setElementOrder/"
_DELETE_FROM = "$deleteFromPrimitiveList/"


class PatchError(ValueError):
    """A patch that cannot be applied (bad document, failed `test`, missing path)."""


def apply_patch(content_type: str, target: dict[str, Any], patch: Any) -> dict[str, Any]:
    """The object after applying `patch` of the given content type to `target`."""
    if content_type == MERGE_PATCH:
        if not isinstance(patch, dict):
            raise PatchError("a merge patch must be a JSON object")
        return merge_patch(target, patch)
    if content_type == JSON_PATCH:
        if not isinstance(patch, list):
            raise PatchError("a JSON patch must be a JSON array of operations")
        try:
            return jsonpatch.apply_patch(target, patch)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as error:
            raise PatchError(str(error)) from None
    if content_type == STRATEGIC_MERGE_PATCH:
        if not isinstance(patch, dict):
            raise PatchError("a strategic merge patch must be a JSON object")
        return strategic_merge_patch(target, patch)
    raise PatchError(f"unsupported patch type {content_type!r}")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """The strategic-merge subset described in the module docstring."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith(_SET_ORDER):
            continue
        if key.startswith(_DELETE_FROM):
            field = key[len(_DELETE_FROM) :]
            result[field] = [v for v in result.get(field) or [] if v not in value]
        elif value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _merge_list(result.get(key), value)
        else:
            merged = strategic_merge_patch(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
    if isinstance(patch.get("$retainKeys"), list):
        result = {k: v for k, v in result.items() if k in patch["$retainKeys"]}
    return result


def _named(items: Any) -> bool:
    return isinstance(items, list) and all(isinstance(i, dict) and "name" in i for i in items)


def _merge_list(target: Any, patch: list[Any]) -> list[Any]:
    if not (_named(patch) and _named(target or [])):
        return [copy.deepcopy(v) for v in patch if not _is_delete(v)]
    merged = [copy.deepcopy(item) for item in target or []]
    positions = {item["name"]: index for index, item in enumerate(merged)}
    removed: set[str] = set()
    for item in patch:
        name = item["name"]
        if _is_delete(item):
            removed.add(name)
        elif name in positions:
            merged[positions[name]] = strategic_merge_patch(merged[positions[name]], item)
        else:
            positions[name] = len(merged)
            merged.append(strategic_merge_patch({}, item))
    return [item for item in merged if item["name"] not in removed]


def _is_delete(item: Any) -> bool:
    return isinstance(item, dict) and item.get("$patch") == "delete"
