"""Test data helpers: the valid objects beside the tests, and changing one field of a copy."""

import copy
import re
from pathlib import Path
from typing import Any

from schemas.loader import load_documents

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]
DELETE = object()  # marker: remove the field instead of setting it


def valid_objects() -> list[dict[str, Any]]:
    """One valid object of every served kind (tests/schemas/data/valid-objects.yaml)."""
    return load_documents(DATA / "valid-objects.yaml")


def base_object(kind: str) -> dict[str, Any]:
    """A valid object of ``kind``: from examples/local/ when it has one, else the test data."""
    candidates = load_documents(REPO / "examples" / "local") + valid_objects()
    return copy.deepcopy(next(obj for obj in candidates if obj["kind"] == kind))


def _parts(path: str) -> list[str | int]:
    return [int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", path)]


def changed(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``obj`` with the field at ``path`` (``spec.sessions[0].name``) set to ``value``
    (or removed when ``value`` is DELETE)."""
    result = copy.deepcopy(obj)
    *parents, last = _parts(path)
    node: Any = result
    for part in parents:
        node = node[part]
    if value is DELETE:
        del node[last]
    else:
        node[last] = copy.deepcopy(value)
    return result
