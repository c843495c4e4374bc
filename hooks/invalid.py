"""The answer to a parent whose own spec is invalid: say which field, change nothing else.

DESIGN §2: invalid user input never crashes a hook; the parent gets a phase that says it is
not usable and a ``ValidationPassed=False`` condition naming the field, and every child it
already had is kept exactly as observed (a child left out would be deleted). The rest of the
observed status is carried forward: it describes children that still exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hooks import conditions, validity
from hooks.protocol import SyncRequest, composite_response, observed_as_desired
from schemas.validation import Problem

VALIDATION_PASSED = "ValidationPassed"
REASON_FAILED = "ResourceValidationFailed"


def parent_problems(request: SyncRequest) -> list[Problem]:
    """Every problem of the parent's own spec (and name, labels, annotations)."""
    return validity.problems(request.parent)


def validation_failed(request: SyncRequest, found: Sequence[Problem]) -> dict[str, Any]:
    """The ``ValidationPassed=False`` condition naming the problems (bounded in length)."""
    return conditions.condition(
        VALIDATION_PASSED,
        False,
        REASON_FAILED,
        validity.summary(found),
        observed_generation=request.generation,
        previous=request.observed_status.get("conditions"),
        transition_time=conditions.observed_time([request.parent, *request.children.all()]),
    )


def composite(request: SyncRequest, phase: str, found: Sequence[Problem]) -> dict[str, Any]:
    """Phase ``phase``, one condition naming the problems, every observed child kept.

    While finalizing the answer is not finalized: what to clean up is read from the spec, so an
    invalid spec holds the deletion until it is fixed, rather than guess.
    """
    carried = {
        key: value
        for key, value in request.observed_status.items()
        if key not in ("phase", "conditions", "observedGeneration")
    }
    status = {**carried, "phase": phase, "conditions": [validation_failed(request, found)]}
    return composite_response(
        status,
        observed_as_desired(request.children),
        finalized=False if request.finalizing else None,
    )
