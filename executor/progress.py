"""What a person or a log collector sees while the executor runs (always on stderr).

- `text` (default on a TTY): a one-line progress bar redrawn in place, then a short summary.
- `json` (default in a pod, where stderr is not a TTY): one JSON object per line
  (`{"time", "level", "msg", …}`), progress at most every few seconds.

stdout is reserved for the result JSON (its last line). The bar is hand-written: one line of
`\\r` output does not justify another dependency in the executor image.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from executor.result import scrub

LOG_FORMATS = ("auto", "text", "json")
_TEXT_INTERVAL = 0.1
_JSON_INTERVAL = 5.0


def resolve_format(requested: str, stream: TextIO) -> str:
    """`auto` → `text` on a TTY, else `json`."""
    if requested != "auto":
        return requested
    return "text" if stream.isatty() else "json"


def human_bytes(count: float) -> str:
    """1536 → `1.5 KiB`."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(count) < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"


class Reporter:
    """Progress and log output of one command run."""

    def __init__(
        self,
        log_format: str = "auto",
        stream: TextIO | None = None,
        secrets: Sequence[str] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.format = resolve_format(log_format, self.stream)
        self._secrets = list(secrets)
        self._clock = clock
        self._started = clock()
        self._last_draw = -1e9
        self._bar_visible = False
        self.znodes = 0
        self.bytes = 0

    def log(self, message: str, level: str = "info", **fields: Any) -> None:
        """One log line (secrets scrubbed)."""
        self._clear_bar()
        message = scrub(message, self._secrets)
        if self.format == "json":
            record = {
                "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                "level": level,
                "msg": message,
                **fields,
            }
            line = scrub(json.dumps(record, ensure_ascii=False), self._secrets)
        else:
            extra = " ".join(f"{key}={value}" for key, value in fields.items())
            prefix = "error: " if level == "error" else ""
            line = f"{prefix}{message}" + (f" ({extra})" if extra else "")
        print(line, file=self.stream, flush=True)

    def update(self, znodes: int | None = None, bytes_done: int | None = None) -> None:
        """Record progress; redraw or log it when enough time has passed."""
        if znodes is not None:
            self.znodes = znodes
        if bytes_done is not None:
            self.bytes = bytes_done
        now = self._clock()
        interval = _TEXT_INTERVAL if self.format == "text" else _JSON_INTERVAL
        if now - self._last_draw < interval:
            return
        self._last_draw = now
        elapsed = max(now - self._started, 1e-6)
        if self.format == "json":
            self.log("progress", znodes=self.znodes, bytes=self.bytes, seconds=round(elapsed, 1))
            return
        rate = human_bytes(self.bytes / elapsed)
        line = (
            f"\r{_spinner(elapsed)} {self.znodes:>10,} znodes  {human_bytes(self.bytes):>10}"
            f"  {rate}/s  {elapsed:6.1f} s"
        )
        self.stream.write(line)
        self.stream.flush()
        self._bar_visible = True

    def _clear_bar(self) -> None:
        if self._bar_visible:
            self.stream.write("\r\033[K")
            self._bar_visible = False

    def summary(self, title: str, rows: Sequence[tuple[str, str]]) -> None:
        """A one-screen summary on a TTY; a single structured line in JSON mode."""
        if self.format == "json":
            self.log(title, **dict(rows))
            return
        self._clear_bar()
        width = max((len(label) for label, _ in rows), default=0)
        lines = [title, *(f"  {label:<{width}}  {value}" for label, value in rows)]
        print(scrub("\n".join(lines), self._secrets), file=self.stream, flush=True)

    def elapsed(self) -> float:
        """Seconds since this reporter was created."""
        return self._clock() - self._started


def _spinner(elapsed: float) -> str:
    return "|/-\\"[int(elapsed * 8) % 4]
