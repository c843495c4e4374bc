"""KubeStash durations: ``30d12h30m``, ``2mo``, ``1y``, ``5m``, Go-style ``1h30m0s``.

KubeStash's RetentionPeriod combines the units y, mo, w, d, h, m (a month counts 30 days, a
year 365), and its timeouts are Go durations (h, m, s, ms, …). One parser accepts both so every
duration field of the API reads the same way. Hand-written because no pinned library parses the
``mo``/``y``/``w`` units together with Go's fractional amounts.
"""

import re
from datetime import timedelta

_UNIT_SECONDS: dict[str, float] = {
    "y": 365 * 86400,
    "mo": 30 * 86400,
    "w": 7 * 86400,
    "d": 86400,
    "h": 3600,
    "m": 60,
    "s": 1,
    "ms": 1e-3,
    "us": 1e-6,
    "µs": 1e-6,
    "ns": 1e-9,
}

# Longest units first so "mo" and "ms" win over "m".
_UNITS = "|".join(sorted(map(re.escape, _UNIT_SECONDS), key=len, reverse=True))
_TERM = re.compile(rf"(\d+(?:\.\d*)?|\.\d+)({_UNITS})")
_WHOLE = re.compile(rf"(?:(?:\d+(?:\.\d*)?|\.\d+)(?:{_UNITS}))+")


def parse_duration(text: str) -> timedelta:
    """Parse a KubeStash duration such as ``"30d12h30m"``, ``"2mo"`` or ``"1h30m0s"``.

    ``"0"`` is zero. Raises ValueError (with a message naming the text) for anything else,
    including non-strings, empty strings, signs and unknown units.
    """
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a duration (expected a string like 30d12h30m)")
    if text == "0":
        return timedelta(0)
    if not _WHOLE.fullmatch(text):
        raise ValueError(
            f"{text!r} is not a valid duration (use numbers with units y, mo, w, d, h, m, s,"
            " e.g. 30d12h30m)"
        )
    seconds = sum(float(amount) * _UNIT_SECONDS[unit] for amount, unit in _TERM.findall(text))
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{text!r} is too long a duration") from None
