"""Assertions every hook response must pass: strict-mode keys, official Kubernetes schemas for
built-in kinds, our schemas for our kinds, and no planted secret value anywhere."""

from __future__ import annotations

import json
from typing import Any

import kubernetes_validate

from schemas.validation import validate
from tests.hooks.world import PLANTED_SECRET

COMPOSITE_KEYS = {"status", "children", "resyncAfterSeconds", "finalized"}
DECORATOR_KEYS = {
    "labels",
    "annotations",
    "status",
    "attachments",
    "resyncAfterSeconds",
    "finalized",
}
OUR_GROUPS = ("kubestash.com/", "appscode.com/")


def check_object(obj: dict[str, Any]) -> None:
    """One emitted object validates against its schema (ours or Kubernetes' 1.29)."""
    if any(group in obj["apiVersion"] for group in OUR_GROUPS):
        problems = validate(obj)
        assert problems == [], [str(p) for p in problems]
    else:
        kubernetes_validate.validate(obj, "1.29", strict=True)


def check_response(response: dict[str, Any], decorator: bool = False) -> None:
    """Allowed keys only, every child valid, no secret value."""
    assert set(response) <= (DECORATOR_KEYS if decorator else COMPOSITE_KEYS)
    for child in response["attachments" if decorator else "children"]:
        check_object(child)
    assert PLANTED_SECRET not in json.dumps(response)


def kinds(response: dict[str, Any], key: str = "children") -> list[tuple[str, str]]:
    return [(c["kind"], c["metadata"]["name"]) for c in response[key]]


def child(response: dict[str, Any], kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [
        c
        for c in response["children"]
        if c["kind"] == kind and (name is None or c["metadata"]["name"] == name)
    ]
    assert len(matches) == 1, kinds(response)
    return matches[0]


def condition(conditions: list[dict[str, Any]], type_: str) -> dict[str, Any]:
    found = [c for c in conditions if c["type"] == type_]
    assert len(found) == 1, conditions
    return found[0]
