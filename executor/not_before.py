"""`backup --not-before`: hold a retry back until its `retryConfig.delay` has passed.

The BackupSession hook creates a retry Job as soon as it sees the failure (a hook reads no
clock) and passes the earliest start as an RFC 3339 time; the executor sleeps until then before
it connects to anything. A time in the past means no wait. A signal ends the sleep at once: the
handler's exception (`Terminated`, `KeyboardInterrupt`) propagates out of `time.sleep`.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable

# RFC 3339 date-time with a required offset. `datetime.fromisoformat` alone also takes ISO
# forms RFC 3339 excludes (a date alone, no offset, week dates), so the shape is checked first.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


class NotBeforeError(ValueError):
    """The value is not an RFC 3339 time with an offset."""


def parse_not_before(text: str) -> dt.datetime:
    """An RFC 3339 time (`2026-11-25T10:05:00Z`) as an aware UTC datetime."""
    if not _RFC3339.fullmatch(text):
        raise NotBeforeError(
            f"{text!r} is not an RFC 3339 time with a UTC offset (e.g. 2026-11-25T10:05:00Z)"
        )
    try:
        moment = dt.datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError as exc:  # the right shape, an impossible date (month 13, Feb 30)
        raise NotBeforeError(f"{text!r} is not a valid time: {exc}") from None
    return moment.astimezone(dt.UTC)


def wait_until(
    moment: dt.datetime,
    on_wait: Callable[[float], None],
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Sleep until `moment` by the wall clock; returns the seconds waited (0 if it has passed).

    `on_wait(seconds)` is called once, before sleeping, only when there is something to wait.
    """
    begun = clock()
    remaining = (moment - begun).total_seconds()
    if remaining <= 0:
        return 0.0
    on_wait(remaining)
    while remaining > 0:  # the wall clock may be set while we sleep: look again
        sleep(remaining)
        remaining = (moment - clock()).total_seconds()
    return (clock() - begun).total_seconds()
