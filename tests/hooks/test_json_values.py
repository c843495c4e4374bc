"""Canonical JSON text is exactly the standard library's sorted compact text (child names are
hashed from it), faithful JSON reads back as the value it was made from, JSON copies are deep."""

import datetime
import enum
import json
import uuid
from collections import OrderedDict

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hooks.json_values import canonical_json, faithful_json, json_copy


def standard(value):
    """The text every existing child name was hashed from."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def json_values(text):
    leaves = st.none() | st.booleans() | st.integers() | st.floats() | text
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
        max_leaves=25,
    )


ASCII = st.text(st.characters(max_codepoint=0x7F), max_size=8)
ANY_TEXT = st.text(max_size=8)  # every code point, lone surrogates included


@settings(max_examples=400)
@given(json_values(ANY_TEXT))
@example({"message": "Sicherung für zk-prod ✗", "n": 1})
@example({"ratio": 1e-05, "big": 1e16, "tiny": 5e-324, "neg": -0.0})
@example([float("nan"), float("inf"), float("-inf"), None])
@example({"above": 2**64, "below": -(2**63) - 1, "max": 2**64 - 1, "min": -(2**63)})
@example({"lone": "\ud800", "del": "\x7f", "controls": "\x00\x08\x0c\x1f\t\n\r"})
def test_canonical_text_is_the_standard_librarys_for_any_json_value(value):
    assert canonical_json(value) == standard(value)


@settings(max_examples=400)
@given(json_values(ASCII))
@example({"b": [True, False, None, 0, -1], "a": {"": "", "\x00": "\"\\/'"}})
def test_canonical_text_is_the_standard_librarys_for_ascii_json_values(value):
    assert canonical_json(value) == standard(value)


class Phase(enum.Enum):
    READY = "Ready"


@pytest.mark.parametrize(
    "value",
    [
        {2: "b", 1: "a"},
        {"when": datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.UTC)},
        {"phase": Phase.READY},
        {"id": uuid.UUID(int=5)},
        {"pair": ("a", 1)},
        OrderedDict(b=1, a=2),
        {"nested": OrderedDict(b=1, a=2)},
        {"deep": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]},
    ],
    ids=["int keys", "datetime", "enum", "uuid", "tuple", "dict subclass", "nested", "deep"],
)
def test_canonical_text_of_other_values_is_the_standard_librarys(value):
    assert canonical_json(value) == standard(value)


def test_nesting_deeper_than_orjson_writes_is_written_by_the_standard_library():
    value: list = []
    for _ in range(300):
        value = [value]
    assert canonical_json(value) == standard(value)


def test_a_value_containing_itself_is_refused_as_the_standard_library_refuses_it():
    value: dict = {}
    value["self"] = value
    with pytest.raises(ValueError, match="Circular reference"):
        canonical_json(value)


@settings(max_examples=300)
@given(json_values(ANY_TEXT))
@example({"ratio": 1e-05, "missing": None, "nan": float("nan"), "inf": [float("-inf")]})
@example({"b": 1, "a": {"é": 2, "z": 3, "\u00e0": "✗"}})
def test_faithful_json_reads_back_as_its_value_with_keys_in_canonical_order(value):
    read_back = json.loads(faithful_json(value))
    assert json.dumps(read_back) == json.dumps(json.loads(canonical_json(value)))


def test_equal_values_built_in_different_orders_have_one_faithful_json_text():
    assert faithful_json({"spec": {"b": [1, 2], "a": "x"}, "kind": "K"}) == faithful_json(
        {"kind": "K", "spec": {"a": "x", "b": [1, 2]}}
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (None, float("nan")),
        (None, float("inf")),
        (float("inf"), float("-inf")),
        (1, 1.0),
        (0.0, -0.0),
        ("1", 1),
        (2**64, float(2**64)),
    ],
)
def test_values_that_differ_have_different_faithful_json_texts(first, second):
    assert faithful_json({"x": first}) != faithful_json({"x": second})


@given(json_values(ANY_TEXT))
def test_a_json_copy_equals_the_original_in_value_and_key_order(value):
    copied = json_copy(value)
    assert copied == value or value != value  # NaN is unequal to itself
    assert standard(copied) == standard(value)
    assert json.dumps(copied) == json.dumps(value)  # key order kept


def test_changing_a_json_copy_leaves_the_original_as_it_was():
    original = {"spec": {"env": [{"name": "A", "value": "1"}], "labels": {"a": "b"}}}
    copied = json_copy(original)
    copied["spec"]["env"][0]["value"] = "2"
    copied["spec"]["env"].append({"name": "B"})
    copied["spec"]["labels"]["c"] = "d"
    assert original == {"spec": {"env": [{"name": "A", "value": "1"}], "labels": {"a": "b"}}}


def test_dicts_inside_tuples_are_copied_too():
    original = ({"name": "scratch", "emptyDir": {}},)
    copied = json_copy(original)
    copied[0]["emptyDir"]["medium"] = "Memory"
    assert original == ({"name": "scratch", "emptyDir": {}},)
