"""Status conditions and phases: built from observed state, never from a clock.

A condition's ``lastTransitionTime`` is carried forward from the parent's observed status
while the condition's status is unchanged; on a change it takes a time the caller read from
an observed object (see ``observed_time``), so the same request always yields the same status.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

TRUE = "True"
FALSE = "False"
UNKNOWN = "Unknown"

_TIME_FIELDS = ("creationTimestamp",)
_STATUS_TIME_FIELDS = ("startTime", "completionTime", "lastTransitionTime", "lastScheduleTime")


def find(conditions: Iterable[Mapping[str, Any]] | None, type_: str) -> dict[str, Any] | None:
    """The condition of a type, or None."""
    for condition in conditions or ():
        # type() first: the abc check takes seven times as long, and decoded JSON is dicts.
        is_mapping = type(condition) is dict or isinstance(condition, Mapping)
        if is_mapping and condition.get("type") == type_:
            return dict(condition)
    return None


def status_of(conditions: Iterable[Mapping[str, Any]] | None, type_: str) -> str | None:
    """'True'/'False'/'Unknown' for a condition type, or None when absent."""
    condition = find(conditions, type_)
    return None if condition is None else str(condition.get("status"))


def is_true(conditions: Iterable[Mapping[str, Any]] | None, type_: str) -> bool:
    """Whether a condition of the type exists with status True."""
    return status_of(conditions, type_) == TRUE


def is_false(conditions: Iterable[Mapping[str, Any]] | None, type_: str) -> bool:
    """Whether a condition of the type exists with status False."""
    return status_of(conditions, type_) == FALSE


def condition(
    type_: str,
    status: bool | str,
    reason: str,
    message: str,
    *,
    observed_generation: int,
    previous: Iterable[Mapping[str, Any]] | None,
    transition_time: str | Callable[[], str],
) -> dict[str, Any]:
    """One condition; ``lastTransitionTime`` carried forward when the status did not change.

    ``transition_time`` is the time a changed condition takes, or a function giving it, called
    only then (``observed_time`` over every child costs more than the condition itself).
    """
    status_text = (TRUE if status else FALSE) if isinstance(status, bool) else status
    before = find(previous, type_)
    if (
        before is not None
        and before.get("status") == status_text
        and before.get("lastTransitionTime")
    ):
        transition_time = str(before["lastTransitionTime"])
    elif callable(transition_time):
        transition_time = transition_time()
    return {
        "type": type_,
        "status": status_text,
        "reason": reason,
        "message": message,
        "observedGeneration": int(observed_generation),
        "lastTransitionTime": transition_time,
    }


def sorted_conditions(conditions: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Conditions in a stable order (by type), one per type (the last given wins)."""
    by_type = {str(c["type"]): dict(c) for c in conditions}
    return [by_type[t] for t in sorted(by_type)]


def observed_time(objects: Sequence[Mapping[str, Any] | None]) -> str:
    """The latest timestamp any of the given observed objects carries.

    Used as the transition time of a changed condition: it is a fact of the observed world
    (a Job's completionTime, a child's creationTimestamp, the parent's own creation), so the
    same request always yields the same answer. RFC 3339 UTC strings compare as times.
    """
    times: list[str] = []
    for obj in objects:
        if not obj:
            continue
        metadata = obj.get("metadata") or {}
        times.extend(str(metadata[f]) for f in _TIME_FIELDS if metadata.get(f))
        status = obj.get("status") or {}
        if isinstance(status, Mapping):
            times.extend(str(status[f]) for f in _STATUS_TIME_FIELDS if status.get(f))
            for c in status.get("conditions") or ():
                if isinstance(c, Mapping) and c.get("lastTransitionTime"):
                    times.append(str(c["lastTransitionTime"]))
    return max(times) if times else "1970-01-01T00:00:00Z"
