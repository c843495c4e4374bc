"""Server-side printing: the `meta.k8s.io/v1` Table that `kubectl get` asks for.

Columns are NAME, the kind's printer columns (a CRD's additionalPrinterColumns, the few the
stand-in declares for built-ins) and AGE, the same choice as the stand-in's own `Kubectl.get`,
which prints with `json_path` and `age` from here too.
Date cells are ages relative to the stand-in's clock, as the API server renders them.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from tests.standin.clock import parse_rfc3339
from tests.standin.kinds import ResourceType

TABLE_MEDIA = "as=Table"
_STEP = re.compile(r"\.([A-Za-z0-9_\-/]+)|\[(\d+)\]")


def wants_table(accept: str) -> bool:
    """Whether the Accept header asks for a Table (kubectl get's default)."""
    return any(TABLE_MEDIA in part and "meta.k8s.io" in part for part in accept.split(","))


def json_path(obj: Any, path: str) -> Any:
    """The simple JSONPath printer columns use: `.status.phase`, `.a.b[0].c`.

    A CRD column path is this small subset, so a JSONPath library would add nothing.
    """
    value = obj
    for name, index in _STEP.findall(path.strip().lstrip("{").rstrip("}")):
        if name:
            value = value.get(name) if isinstance(value, dict) else None
        else:
            value = (
                value[int(index)] if isinstance(value, list) and int(index) < len(value) else None
            )
        if value is None:
            return None
    return value


def age(timestamp: str | None, now: datetime) -> str:
    """The API server's short age: 42s, 5m, 3h, 2d."""
    if not timestamp:
        return "<unknown>"
    seconds = max(0, int((now - parse_rfc3339(timestamp)).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _columns(rtype: ResourceType) -> tuple[list[dict[str, Any]], bool]:
    columns = [dict(c) for c in rtype.printer_columns]
    with_age = rtype.builtin or not any(int(c.get("priority", 0)) == 0 for c in columns)
    return columns, with_age


def _cell(value: Any, column: dict[str, Any], now: datetime) -> Any:
    if value is None:
        return None
    if column.get("type") == "date":
        return age(str(value), now)
    if isinstance(value, dict | list):
        return str(value)
    return value


def _row_object(obj: dict[str, Any], include: str) -> dict[str, Any] | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def table(
    rtype: ResourceType,
    objects: list[dict[str, Any]],
    now: datetime,
    resource_version: str,
    include_object: str = "Metadata",
) -> dict[str, Any]:
    """A Table of `objects` (one row each) with this kind's columns."""
    columns, with_age = _columns(rtype)
    definitions = [
        {"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0}
    ]
    for column in columns:
        definitions.append(
            {
                "name": column["name"],
                "type": "string" if column.get("type") == "date" else column.get("type", "string"),
                "format": column.get("format", ""),
                "description": column.get("description", ""),
                "priority": int(column.get("priority", 0)),
            }
        )
    if with_age:
        definitions.append(
            {"name": "Age", "type": "date", "format": "", "description": "Age", "priority": 0}
        )
    rows = []
    for obj in objects:
        cells = [obj["metadata"]["name"]]
        cells += [_cell(json_path(obj, c["jsonPath"]), c, now) for c in columns]
        if with_age:
            cells.append(age(obj["metadata"].get("creationTimestamp"), now))
        row: dict[str, Any] = {"cells": cells}
        row_object = _row_object(obj, include_object)
        if row_object is not None:
            row["object"] = row_object
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": definitions,
        "rows": rows,
    }
