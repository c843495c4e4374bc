"""The real `executor` command line as a child process a test can watch and interrupt.

`ExecutorProcess` starts `executor …` with the text progress bar on stderr (redrawn every
0.1 s with the cumulative znode count), reads stderr in a thread, and lets a test wait until
the run has demonstrably done some work (`wait_for_znodes`) before it injects a fault: kill a
ZooKeeper leader, stop the S3 server, SIGKILL the executor itself. `finish()` returns the exit
code and the result object (the last stdout line), or None for a run that was killed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

EXECUTOR = str(Path(sys.executable).parent / "executor")
_ZNODES = re.compile(rb"([\d,]+) znodes")


@dataclass(frozen=True)
class Finished:
    """How a run ended: exit code (negative: killed by that signal), result, output."""

    code: int
    result: dict | None
    stdout: str
    stderr: str


def executor_environment(env: Mapping[str, str]) -> dict[str, str]:
    """A small clean environment plus `env` (secrets and repository settings of the test)."""
    base = {key: os.environ[key] for key in ("PATH", "HOME", "TMPDIR") if key in os.environ}
    return {**base, **env}


def run_executor(*args: str, env: Mapping[str, str], timeout: float = 120.0) -> Finished:
    """Run one executor command to its end (JSON log lines on stderr)."""
    done = subprocess.run(
        [EXECUTOR, *args, "--log-format=json"],
        env=executor_environment(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Finished(done.returncode, _last_json(done.stdout), done.stdout, done.stderr)


def _last_json(stdout: str) -> dict | None:
    lines = stdout.strip().splitlines()
    if not lines:
        return None
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError:
        return None


class ExecutorProcess:
    """One running `executor` command whose progress a test can follow."""

    def __init__(self, *args: str, env: Mapping[str, str]) -> None:
        self.process = subprocess.Popen(
            [EXECUTOR, *args, "--log-format=text"],
            env=executor_environment(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._stderr = bytearray()
        self._znodes = 0
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        while chunk := self.process.stderr.read1(65536):
            with self._changed:
                self._stderr += chunk
                counts = _ZNODES.findall(bytes(self._stderr[-4096:]))
                if counts:
                    self._znodes = max(self._znodes, int(counts[-1].replace(b",", b"")))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def znodes(self) -> int:
        """The highest znode count the progress bar has shown so far."""
        with self._changed:
            return self._znodes

    def running(self) -> bool:
        """True while the executor has not exited."""
        return self.process.poll() is None

    def wait_for_znodes(self, count: int, timeout: float = 60.0) -> int:
        """Block until the progress bar shows at least `count` znodes; the count shown.

        Raises AssertionError when the executor exits first or `timeout` passes: the fault
        would then not hit a run in progress, and the test would prove nothing.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._znodes < count:
                if self.process.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(
                        f"executor exited (code {self.process.returncode}) after "
                        f"{self._znodes} znodes, before reaching {count}:\n"
                        + self._stderr.decode(errors="replace")[-2000:]
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no progress to {count} znodes within {timeout} s")
                self._changed.wait(min(left, 0.2))
            return self._znodes

    def kill(self) -> None:
        """SIGKILL the executor (an OOM kill or a node lost: no cleanup code runs)."""
        self.process.send_signal(signal.SIGKILL)

    def finish(self, timeout: float = 120.0) -> Finished:
        """Wait for the exit; the exit code, the result object (None if none) and output."""
        assert self.process.stdout is not None
        stdout = self.process.stdout.read().decode(errors="replace")
        code = self.process.wait(timeout)
        self._reader.join(timeout)
        stderr = self._stderr.decode(errors="replace")
        return Finished(code, _last_json(stdout), stdout, stderr)
