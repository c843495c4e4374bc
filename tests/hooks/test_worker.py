"""hooks.worker.HookWorker under the real gunicorn: requests answered on the worker's thread
keep gthread's connection handling (keep-alive is tested in test_app.py)."""

import json
import socket
from collections.abc import Iterator

import pytest

from tests.hooks import world
from tests.standin.hooks_server import HooksServer

BODY = json.dumps(world.sync_body("backupconfiguration", world.backup_configuration())).encode()


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory) -> Iterator[int]:
    """The port of a hooks server with a single worker: whatever holds that worker holds the
    server."""
    server = HooksServer(tmp_path_factory.mktemp("hooks") / "hooks.log", workers=1).start()
    try:
        yield server.port
    finally:
        server.stop()


def _read_responses(sock: socket.socket, count: int) -> list[tuple[str, bytes]]:
    """(status line, body) of ``count`` HTTP/1.1 responses with Content-Length."""
    buffer, answers = b"", []
    while len(answers) < count:
        head_end = buffer.find(b"\r\n\r\n")
        if head_end >= 0:
            head = buffer[:head_end].decode("latin-1").split("\r\n")
            length = next(
                int(line.split(":", 1)[1])
                for line in head
                if line.lower().startswith("content-length:")
            )
            end = head_end + 4 + length
            if len(buffer) >= end:
                answers.append((head[0], buffer[head_end + 4 : end]))
                buffer = buffer[end:]
                continue
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed after {len(answers)} of {count} responses")
        buffer += chunk
    return answers


def _post(path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: hooks\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def test_pipelined_requests_are_answered_in_order(one_worker):
    port = one_worker
    health = b"GET /healthz HTTP/1.1\r\nHost: hooks\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(health + _post("/sync/backupconfiguration", BODY) + health * 200)
        answers = _read_responses(sock, 202)
    assert [status for status, _ in answers] == ["HTTP/1.1 200 OK"] * 202
    assert answers[0][1] == answers[-1][1] == b"ok\n"
    assert "children" in json.loads(answers[1][1])


def test_a_connection_that_sends_nothing_does_not_hold_the_worker(one_worker):
    port = one_worker
    with socket.create_connection(("127.0.0.1", port), timeout=10) as silent:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(_post("/sync/backupconfiguration", BODY))
            [(status, body)] = _read_responses(sock, 1)
        assert status == "HTTP/1.1 200 OK" and "children" in json.loads(body)
        silent.sendall(b"GET /healthz HTTP/1.1\r\nHost: hooks\r\n\r\n")
        assert _read_responses(silent, 1) == [("HTTP/1.1 200 OK", b"ok\n")]


def test_a_stopped_server_ends_its_workers_cleanly(tmp_path):
    log = tmp_path / "hooks.log"
    server = HooksServer(log).start()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as kept_alive:
        kept_alive.sendall(_post("/sync/backupconfiguration", BODY))
        _read_responses(kept_alive, 1)
        assert server.stop() == 0
    errors = log.read_text()
    assert "Worker exiting" in errors
    assert "exited with code" not in errors and "Traceback" not in errors
