"""parse_duration: KubeStash retention periods and Go-style timeouts."""

from datetime import timedelta

import pytest

from schemas.durations import parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d12h30m", timedelta(days=30, hours=12, minutes=30)),
        ("2mo", timedelta(days=60)),
        ("1y", timedelta(days=365)),
        ("5m", timedelta(minutes=5)),
        ("2w", timedelta(weeks=2)),
        ("1h30m0s", timedelta(hours=1, minutes=30)),
        ("1.5h", timedelta(hours=1, minutes=30)),
        ("300ms", timedelta(milliseconds=300)),
        ("1y2mo3w4d5h6m7s", timedelta(days=365 + 60 + 21 + 4, hours=5, minutes=6, seconds=7)),
        ("0", timedelta(0)),
    ],
)
def test_duration_is_parsed(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", "m", "-5m", "5x", "30 days", "1h 30m", "h1", "1e3s"])
def test_malformed_duration_raises_value_error_naming_it(text):
    with pytest.raises(ValueError, match="not a valid duration"):
        parse_duration(text)


@pytest.mark.parametrize("value", [None, 5, 1.5, ["5m"], {"m": 5}])
def test_non_string_duration_raises_value_error(value):
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(value)


def test_absurdly_long_duration_raises_value_error():
    with pytest.raises(ValueError, match="too long"):
        parse_duration("9" * 30 + "y")
