"""Printing results the way kubectl does: `-o yaml|json|name|wide` and aligned tables."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TextIO

import yaml

OUTPUT_FORMATS = ("yaml", "json", "name", "wide")


def object_name(obj: dict[str, Any]) -> str:
    """kubectl's `-o name`: `<kind>.<group>/<name>`, e.g. `backupsession.core.kubestash.com/x`."""
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    kind = str(obj.get("kind", "")).lower()
    return (
        f"{kind}.{group}/{obj['metadata']['name']}"
        if group
        else f"{kind}/{obj['metadata']['name']}"
    )


def print_objects(objects: Sequence[dict[str, Any]], output: str, out: TextIO) -> None:
    """Objects as yaml, json (a List for several) or names."""
    if output == "name":
        for obj in objects:
            print(object_name(obj), file=out)
        return
    document: Any = (
        objects[0]
        if len(objects) == 1
        else {"apiVersion": "v1", "kind": "List", "items": list(objects), "metadata": {}}
    )
    if output == "json":
        print(json.dumps(document, indent=4), file=out)
    else:
        print(yaml.safe_dump(document, sort_keys=True).rstrip(), file=out)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO) -> None:
    """An aligned table with upper-case headers and three spaces between columns."""
    all_rows = [list(headers), *[list(r) for r in rows]]
    widths = [max(len(r[i]) for r in all_rows) for i in range(len(headers))]
    for row in all_rows:
        print("   ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip(), file=out)
