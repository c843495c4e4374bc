"""Related objects of our kinds are admitted only when their user part matches the schema; the
answer depends on the object's content alone, however often the same object is sent."""

from types import MappingProxyType

import pytest

from hooks.related import problem

ADDON_API = "addons.kubestash.com/v1alpha1"
TRIGGER = ("", "zookeeper-trigger")


def function(spec: dict) -> dict:
    return {
        "apiVersion": ADDON_API,
        "kind": "Function",
        "metadata": {"name": "zookeeper-trigger", "resourceVersion": "7"},
        "spec": spec,
    }


def test_a_related_object_of_a_kind_we_do_not_serve_is_admitted_as_it_is():
    assert problem("Namespace", "v1", {"spec": 5}, ("", "demo")) is None


def test_a_function_of_the_right_shape_is_admitted():
    assert problem("Function", ADDON_API, function({"image": "executor:1"}), TRIGGER) is None


def test_a_function_of_the_wrong_shape_is_refused_naming_it_and_the_field():
    assert problem("Function", ADDON_API, function({"image": 5}), TRIGGER) == (
        "Function zookeeper-trigger: spec.image: expected a string, got 5"
    )


def test_the_same_object_sent_again_gets_the_same_answer_and_a_changed_one_a_new_one():
    assert problem("Function", ADDON_API, function({"image": 6}), TRIGGER) is not None
    assert problem("Function", ADDON_API, function({"image": 6}), TRIGGER) is not None
    assert problem("Function", ADDON_API, function({"image": "executor:6"}), TRIGGER) is None


@pytest.mark.parametrize(
    ("value", "shown"),
    [(None, "null"), (float("nan"), "nan"), (float("inf"), "inf"), (2**70, str(2**70))],
)
def test_values_orjson_cannot_tell_apart_or_write_are_checked_as_they_are(value, shown):
    assert problem("Function", ADDON_API, function({"image": value}), TRIGGER) == (
        f"Function zookeeper-trigger: spec.image: expected a string, got {shown}"
    )


def test_an_object_made_of_other_mappings_than_dicts_is_checked_too():
    obj = MappingProxyType(function({"image": 5}))
    assert problem("Function", ADDON_API, obj, TRIGGER) == (
        "Function zookeeper-trigger: spec.image: expected a string, got 5"
    )
