"""Fixtures for the control-plane fault tests: the e2e fixtures (hooks server, stand-in cluster,
kubectl, backup directory, restore ZooKeeper), a hooks server a test may kill, and a small HTTP
proxy that answers chosen hook calls with a fault before the real hooks server sees them."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.e2e.conftest import (  # noqa: F401  (fixtures, registered by import)
    backup_dir,
    cluster,
    hooks_server,
    kubectl,
    restore_hosts,
    restore_zookeeper,
)
from tests.standin.hooks_server import HooksServer


@dataclass(frozen=True)
class Fault:
    """What the proxy does to one call: answer `status` at once, or forward after `delay` s."""

    status: int | None = None
    delay: float = 0.0


# (hook path, how many calls to that path came before) -> the fault for this call, or None
FaultPlan = Callable[[str, int], Fault | None]


@dataclass
class FaultProxy:
    """Forwards POSTs to the hooks server, except those its plan turns into a fault.

    A delayed call is still forwarded when the delay is over, as a slow hooks server would
    finish a request its caller already gave up on (Metacontroller's timeout does not cancel
    it), so the hook sees the same sync twice.
    """

    upstream: str
    plan: FaultPlan = lambda path, count: None
    calls: list[tuple[str, int]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        """Base URL the stand-in calls instead of the hooks server."""
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def faults(self) -> list[tuple[str, int]]:
        """Every call answered with a fault status (path, status)."""
        with self._lock:
            return [(path, status) for path, status in self.calls if status != 200]

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy._lock:
                    count = sum(1 for path, _ in proxy.calls if path == self.path)
                    fault = proxy.plan(self.path, count) or Fault()
                    proxy.calls.append((self.path, fault.status or 200))
                if fault.status is not None:
                    self._answer(fault.status, b"injected fault\n")
                    return
                time.sleep(fault.delay)
                status, payload = proxy.forward(self.path, body)
                self._answer(status, payload)

            def _answer(self, status: int, payload: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller timed out and went away

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def forward(self, path: str, body: bytes) -> tuple[int, bytes]:
        """POST to the real hooks server; its status and body."""
        request = urllib.request.Request(
            self.upstream + path,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@pytest.fixture
def fault_proxy(hooks_server: HooksServer) -> Iterator[FaultProxy]:  # noqa: F811
    """A proxy in front of the shared hooks server; a test sets its `plan`."""
    proxy = FaultProxy(hooks_server.url).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def own_hooks_server(tmp_path: Path) -> Iterator[HooksServer]:
    """A hooks server of this test alone, so it may be killed and started again."""
    server = HooksServer(tmp_path / "own-hooks.log").start()
    yield server
    server.stop()
