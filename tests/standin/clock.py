"""A controllable clock: real time plus an offset that tests move forward with `advance`."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock time that can be pushed forward, so schedules and resyncs fire on demand."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The current (possibly advanced) time, timezone-aware UTC, whole microseconds."""
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds` (never backward: Kubernetes clocks only move on)."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += timedelta(seconds=seconds)


def rfc3339(moment: datetime) -> str:
    """Kubernetes' timestamp format: second precision, `Z` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> datetime:
    """Parse a Kubernetes timestamp (`2026-11-25T10:00:00Z`) into an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
