"""List query parameters: `labelSelector` and `fieldSelector` strings as predicates.

The string form is Kubernetes' (`k8s.io/apimachinery/pkg/labels.Parse`): comma-separated
requirements `key`, `!key`, `key=v`, `key==v`, `key!=v`, `key in (a,b)`, `key notin (a,b)`.
It is parsed into the structured selector (`matchLabels`/`matchExpressions`) the stand-in
already evaluates, so both forms share one matcher.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.standin.selectors import labels_match

# Fields every kind can be selected on (CRDs serve only these, built-ins a few more).
_FIELDS = {
    "metadata.name": lambda obj: obj["metadata"].get("name", ""),
    "metadata.namespace": lambda obj: obj["metadata"].get("namespace", ""),
}
_SET_REQUIREMENT = re.compile(r"^(?P<key>[^\s!=()]+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_EQUALITY = re.compile(r"^(?P<key>[^\s!=()]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s!=(),]*)$")
_EXISTS = re.compile(r"^(?P<not>!?)\s*(?P<key>[^\s!=()]+)$")


class QueryError(ValueError):
    """A selector the API server would reject with 400 BadRequest."""


def _requirements(text: str) -> list[str]:
    """Split on commas that are not inside `( … )`."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def parse_label_selector(text: str) -> dict[str, Any]:
    """`app=x,tier!=db,env in (a,b),!legacy` → `{matchLabels, matchExpressions}`."""
    match_labels: dict[str, str] = {}
    expressions: list[dict[str, Any]] = []
    for requirement in _requirements(text):
        if found := _SET_REQUIREMENT.match(requirement):
            values = [v.strip() for v in found["values"].split(",") if v.strip()]
            operator = "In" if found["op"] == "in" else "NotIn"
            expressions.append({"key": found["key"], "operator": operator, "values": values})
        elif found := _EQUALITY.match(requirement):
            if found["op"] == "!=":
                expressions.append(
                    {"key": found["key"], "operator": "NotIn", "values": [found["value"]]}
                )
            else:
                match_labels[found["key"]] = found["value"]
        elif found := _EXISTS.match(requirement):
            operator = "DoesNotExist" if found["not"] else "Exists"
            expressions.append({"key": found["key"], "operator": operator})
        else:
            raise QueryError(f"unable to parse requirement: {requirement!r}")
    return {"matchLabels": match_labels, "matchExpressions": expressions}


def label_predicate(text: str | None) -> Callable[[dict[str, Any]], bool]:
    """A predicate for `?labelSelector=` (everything when absent or empty)."""
    if not text:
        return lambda obj: True
    selector = parse_label_selector(text)
    return lambda obj: labels_match(selector, obj)


def field_predicate(text: str | None) -> Callable[[dict[str, Any]], bool]:
    """A predicate for `?fieldSelector=` over `metadata.name` and `metadata.namespace`."""
    checks: list[Callable[[dict[str, Any]], bool]] = []
    for requirement in _requirements(text or ""):
        found = _EQUALITY.match(requirement)
        if found is None:
            raise QueryError(f"invalid field selector: {requirement!r}")
        field = _FIELDS.get(found["key"])
        if field is None:
            raise QueryError(f"field label not supported: {found['key']}")
        checks.append(_field_check(field, found["value"], negate=found["op"] == "!="))
    return lambda obj: all(check(obj) for check in checks)


def _field_check(
    field: Callable[[dict[str, Any]], str], wanted: str, negate: bool
) -> Callable[[dict[str, Any]], bool]:
    return lambda obj: (field(obj) == wanted) != negate
