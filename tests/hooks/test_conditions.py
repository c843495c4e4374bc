"""Conditions carry lastTransitionTime forward from the observed status; no clock is read."""

from types import MappingProxyType

from hooks import conditions

PREVIOUS = [
    {
        "type": "Ready",
        "status": "True",
        "reason": "R",
        "message": "",
        "lastTransitionTime": "2024-01-01T00:00:00Z",
    }
]


def test_unchanged_status_keeps_the_previous_transition_time():
    made = conditions.condition(
        "Ready",
        True,
        "R2",
        "m",
        observed_generation=3,
        previous=PREVIOUS,
        transition_time="2030-01-01T00:00:00Z",
    )
    assert made["lastTransitionTime"] == "2024-01-01T00:00:00Z"
    assert made["observedGeneration"] == 3 and made["reason"] == "R2"


def test_a_transition_time_function_is_called_only_when_the_status_changed():
    asked = []

    def observed():
        asked.append(True)
        return "2030-01-01T00:00:00Z"

    kept = conditions.condition(
        "Ready", True, "R", "m", observed_generation=1, previous=PREVIOUS, transition_time=observed
    )
    assert kept["lastTransitionTime"] == "2024-01-01T00:00:00Z" and asked == []
    changed = conditions.condition(
        "Ready", False, "R", "m", observed_generation=1, previous=PREVIOUS, transition_time=observed
    )
    assert changed["lastTransitionTime"] == "2030-01-01T00:00:00Z" and asked == [True]


def test_changed_status_takes_the_given_observed_time():
    made = conditions.condition(
        "Ready",
        False,
        "R",
        "m",
        observed_generation=1,
        previous=PREVIOUS,
        transition_time="2030-01-01T00:00:00Z",
    )
    assert made["lastTransitionTime"] == "2030-01-01T00:00:00Z"
    assert made["status"] == "False"


def test_observed_time_is_the_latest_timestamp_of_observed_objects():
    objects = [
        {"metadata": {"creationTimestamp": "2024-01-01T00:00:00Z"}},
        {"metadata": {}, "status": {"completionTime": "2024-03-01T00:00:00Z"}},
        None,
    ]
    assert conditions.observed_time(objects) == "2024-03-01T00:00:00Z"


def test_helpers_read_condition_status():
    assert conditions.is_true(PREVIOUS, "Ready")
    assert not conditions.is_false(PREVIOUS, "Ready")
    assert conditions.status_of(PREVIOUS, "Missing") is None


def test_conditions_given_as_other_mappings_than_dicts_are_read_too():
    previous = [MappingProxyType(PREVIOUS[0])]
    assert conditions.find(previous, "Ready") == PREVIOUS[0]
    assert conditions.find([["not", "a", "condition"], *previous], "Ready") == PREVIOUS[0]


def test_sorted_conditions_orders_by_type_and_dedupes():
    result = conditions.sorted_conditions(
        [
            {"type": "B", "status": "True"},
            {"type": "A", "status": "True"},
            {"type": "B", "status": "False"},
        ]
    )
    assert [(c["type"], c["status"]) for c in result] == [("A", "True"), ("B", "False")]
