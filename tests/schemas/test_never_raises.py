"""validate() and with_defaults() never raise on user data, whatever its shape."""

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.defaults import with_defaults
from schemas.problems import Problem
from schemas.registry import kinds
from schemas.validation import validate, validate_document
from tests.schemas.objects import valid_objects


def _field_names(schema: Any, found: set[str]) -> set[str]:
    if isinstance(schema, dict):
        for name, sub in schema.get("properties", {}).items():
            found.add(name)
            _field_names(sub, found)
        for sub in schema.values():
            _field_names(sub, found)
    elif isinstance(schema, list):
        for sub in schema:
            _field_names(sub, found)
    return found


FIELD_NAMES = sorted(set().union(*(_field_names(k.object_schema, set()) for k in kinds().values())))
SERVED = [(k.api_version, k.kind) for k in kinds().values()]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["latest", "*/61 * * * *", "30d", "Selector", "s3", "local", "${x}", ""])
)
KEYS = st.sampled_from(FIELD_NAMES) | st.text(max_size=6) | st.integers(0, 3)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=25,
)


@st.composite
def served_objects(draw: st.DrawFn) -> dict[str, Any]:
    api_version, kind = draw(st.sampled_from(SERVED))
    obj = draw(st.dictionaries(st.sampled_from(["metadata", "spec", "status"]), VALUES))
    return {"apiVersion": api_version, "kind": kind, **obj}


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    children = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    found = [prefix]
    for key, child in children:
        found += _paths(child, (*prefix, key))
    return found


@st.composite
def nearly_valid_objects(draw: st.DrawFn) -> dict[str, Any]:
    """A valid object with one field anywhere in it replaced by anything."""
    obj = copy.deepcopy(draw(st.sampled_from(valid_objects())))
    path = draw(st.sampled_from([p for p in _paths(obj) if p]))
    node = obj
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = draw(VALUES)
    return obj


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(VALUES)
def test_any_value_at_all_yields_problems_not_exceptions(value):
    assert all(isinstance(p, Problem) for p in validate(value) + validate_document(value))
    with_defaults(value)


@SETTINGS
@given(served_objects())
def test_any_shape_under_a_served_kind_yields_problems_not_exceptions(obj):
    assert all(isinstance(p, Problem) for p in validate(obj))
    assert all(isinstance(p, Problem) for p in validate(with_defaults(obj)))


@SETTINGS
@given(nearly_valid_objects())
def test_one_odd_field_in_a_valid_object_yields_problems_not_exceptions(obj):
    assert all(isinstance(p, Problem) for p in validate(obj))
    assert all(isinstance(p, Problem) for p in validate(with_defaults(obj)))
