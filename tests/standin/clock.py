"""A controllable clock: real time plus an offset that tests move forward with `advance`.

Time moves with the wall clock, so timestamps, resyncs, backoffs and Job durations behave as
on a cluster. The stretches a test skips with `advance` are remembered: CronJobs fire only for
schedule times inside one of them (DESIGN §6: "fired on demand or by a controllable clock"),
so a test that happens to run across a real `*/5` boundary gets no backup it did not ask for.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class Jump:
    """A stretch of time skipped by one `advance`: the half-open interval (start, end]."""

    start: datetime
    end: datetime


class Clock:
    """Wall-clock time that can be pushed forward, so schedules and resyncs fire on demand."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._jumps: list[Jump] = []
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The current (possibly advanced) time, timezone-aware UTC, whole microseconds."""
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds` (never backward: Kubernetes clocks only move on)."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        step = timedelta(seconds=seconds)
        with self._lock:
            start = datetime.now(UTC) + self._offset
            self._offset += step
            self._jumps.append(Jump(start, start + step))

    def jumps(self) -> list[Jump]:
        """Every stretch `advance` skipped, oldest first."""
        with self._lock:
            return list(self._jumps)


def rfc3339(moment: datetime) -> str:
    """Kubernetes' timestamp format: second precision, `Z` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> datetime:
    """Parse a Kubernetes timestamp (`2026-11-25T10:00:00Z`) into an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
