"""Starting the real hooks server (gunicorn, `python -m hooks`) on a free 127.0.0.1 port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class HooksServer:
    """The hooks Flask app under gunicorn, as the Deployment runs it."""

    def __init__(self, log_path: Path, workers: int = 2) -> None:
        self.port = _free_port()
        self.log_path = log_path
        self.workers = workers
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> HooksServer:
        """Start gunicorn and wait until /healthz answers."""
        env = {
            **os.environ,
            "ZKSTASH_HOOKS_BIND": f"127.0.0.1:{self.port}",
            "ZKSTASH_HOOKS_WORKERS": str(self.workers),
        }
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "hooks"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the hooks server exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the hooks server did not answer /healthz in {timeout}s")

    def kill(self) -> None:
        """Kill gunicorn and its workers at once (SIGKILL to the group), as a crashed pod dies:
        requests in flight are cut off. `start` brings it back on the same port."""
        if self._process is None or self._process.poll() is not None:
            return
        os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()

    def stop(self) -> int | None:
        """Stop gunicorn (its arbiter stops the workers); its exit code (None if never
        started)."""
        if self._process is None or self._process.poll() is not None:
            return None if self._process is None else self._process.returncode
        os.kill(self._process.pid, signal.SIGTERM)
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
        return self._process.returncode
