"""The Flask app: routes, status codes, metrics; and once under real gunicorn."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import types
import urllib.error
import urllib.request
from pathlib import Path

from prometheus_client import REGISTRY

from hooks.app import create_app
from tests.hooks import world
from tests.infra.http import wait_until_serving

ROOT = Path(__file__).resolve().parents[2]
CALLS = "zkstash_hook_requests_total"
BODY = world.sync_body(
    "backupconfiguration",
    world.backup_configuration(),
    related=[
        world.namespace(),
        world.appbinding(),
        world.backup_storage(),
        world.retention_policy(),
        *world.catalog(),
        *world.planted_secrets(),
    ],
)


def client(controllers=None):
    return create_app(controllers).test_client()


def test_sync_answers_200_with_json_and_is_byte_stable():
    app = client()
    first = app.post("/sync/backupconfiguration", json=BODY)
    second = app.post("/sync/backupconfiguration", json=BODY)
    assert first.status_code == 200 and first.mimetype == "application/json"
    assert first.data == second.data
    assert set(first.get_json()) <= {"status", "children", "resyncAfterSeconds", "finalized"}
    assert world.PLANTED_SECRET.encode() not in first.data


def test_customize_route():
    response = client().post("/customize/backupconfiguration", json=BODY)
    assert response.status_code == 200
    assert "relatedResources" in response.get_json()


def test_unknown_controller_or_hook_is_404():
    assert client().post("/sync/nope", json=BODY).status_code == 404
    assert client().post("/finalize/backupconfiguration", json=BODY).status_code == 404


def test_finalize_is_reached_only_through_sync_which_checks_the_spec_first():
    # The manifests point finalize at the sync URL (request.finalizing); no other route may
    # reach a controller's deletion logic without the spec check.
    for controller in ("backupstorage", "repository", "snapshot"):
        assert client().post(f"/finalize/{controller}", json=BODY).status_code == 404


def test_non_json_and_malformed_requests_are_400():
    app = client()
    assert (
        app.post("/sync/backupconfiguration", data="{", content_type="application/json").status_code
        == 400
    )
    assert app.post("/sync/backupconfiguration", json={"parent": {}}).status_code == 400


def test_a_body_sent_as_another_content_type_is_400():
    response = client().post(
        "/sync/backupconfiguration", data=json.dumps(BODY), content_type="text/plain"
    )
    assert response.status_code == 400
    assert response.data == b"request body is not JSON\n"


def test_a_json_response_carries_its_length_and_type():
    response = client().post("/sync/backupconfiguration", json=BODY)
    assert response.headers["Content-Type"] == "application/json"
    assert int(response.headers["Content-Length"]) == len(response.data)


def test_a_bug_in_a_controller_is_a_500_with_a_short_body():
    def broken_sync(request):
        raise KeyError("bug")

    app = client({"broken": types.SimpleNamespace(sync=broken_sync)})
    response = app.post("/sync/broken", json=BODY)
    assert response.status_code == 500
    assert response.data == b"internal error in broken sync hook\n"


def test_health_and_metrics():
    app = client()
    assert app.get("/healthz").status_code == 200
    app.post("/sync/backupconfiguration", json=BODY)
    metrics = app.get("/metrics").data.decode()
    assert (
        'zkstash_hook_requests_total{code="200",controller="backupconfiguration",hook="sync"}'
        in metrics
    )
    assert "zkstash_hook_latency_seconds_bucket" in metrics


def test_every_call_is_counted_and_only_failed_ones_as_errors():
    app = client()
    labels = {"controller": "backupconfiguration", "hook": "sync"}

    def count(name, **extra):
        return REGISTRY.get_sample_value(name, {**labels, **extra}) or 0.0

    answered, refused = count(CALLS, code="200"), count(CALLS, code="400")
    errors = count("zkstash_hook_errors_total")
    app.post("/sync/backupconfiguration", json=BODY)
    app.post("/sync/backupconfiguration", json=BODY)
    app.post("/sync/backupconfiguration", json=[])
    assert count(CALLS, code="200") == answered + 2
    assert count(CALLS, code="400") == refused + 1
    assert count("zkstash_hook_errors_total") == errors + 1


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_served_by_gunicorn_with_metrics_from_all_workers(tmp_path):
    port = free_port()
    env = {**os.environ, "ZKSTASH_HOOKS_BIND": f"127.0.0.1:{port}", "HOME": str(tmp_path)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "hooks"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(f"{url}/healthz", server)
        data = json.dumps(BODY).encode()
        for _ in range(6):
            request = urllib.request.Request(
                f"{url}/sync/backupconfiguration",
                data=data,
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=5) as response:
                assert response.status == 200
        metrics = urllib.request.urlopen(f"{url}/metrics", timeout=5).read().decode()
        line = next(
            ln
            for ln in metrics.splitlines()
            if ln.startswith(
                'zkstash_hook_requests_total{code="200",controller="backupconfiguration"'
            )
        )
        assert float(line.split()[-1]) == 6.0
        assert not (tmp_path / ".gunicorn").exists()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)


def test_gunicorn_keeps_connections_alive_between_hook_calls(tmp_path):
    # Metacontroller's Go client reuses connections; the server must not close them.
    port = free_port()
    env = {**os.environ, "ZKSTASH_HOOKS_BIND": f"127.0.0.1:{port}", "HOME": str(tmp_path)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "hooks"],
        cwd=ROOT,
        env={**env, "ZKSTASH_HOOKS_WORKERS": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/healthz", server)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        data = json.dumps(BODY).encode()
        headers = {"Content-Type": "application/json"}
        connection.request("POST", "/sync/backupconfiguration", body=data, headers=headers)
        first = connection.getresponse()
        first.read()
        socket_used = connection.sock
        connection.request("POST", "/sync/backupconfiguration", body=data, headers=headers)
        second = connection.getresponse()
        second.read()
        assert (first.status, second.status) == (200, 200)
        assert not first.will_close and connection.sock is socket_used
        connection.close()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
