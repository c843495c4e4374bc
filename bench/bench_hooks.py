"""Hooks throughput: syncs/s and p99 of the BackupConfiguration hook under gunicorn.

Load: wrk (Debian) with 16 connections, posting one realistic sync request — a
BackupConfiguration with 3 sessions × 2 repositories and every child observed (6 Repositories,
3 CronJobs, 3 BackupSessions, ServiceAccount, RoleBinding) plus related storages, policies,
AppBinding and the addon catalog. Peer in the same run: a trivial Flask echo hook served with
the same gunicorn settings (the ceiling for a Flask app on this machine). Several runs, median.

    .venv/bin/python -m bench.bench_hooks [--runs 3] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from flask import Flask, Response, request

from hooks.controllers import backupconfiguration
from hooks.protocol import parse_request
from tests.hooks import world

ROOT = Path(__file__).resolve().parents[1]
CONNECTIONS = 16

echo_app = Flask("echo")


@echo_app.post("/sync/echo")
def echo() -> Response:
    """The ceiling: parse the JSON body and send it back."""
    return Response(json.dumps(request.get_json()), mimetype="application/json")


def realistic_body() -> dict:
    """A settled BackupConfiguration (3 sessions × 2 repositories) as Metacontroller sends it."""
    sessions = [
        world.session(
            f"session-{i}", [(f"repo-{i}-a", "s3-backend"), (f"repo-{i}-b", "s3-backend")]
        )
        for i in range(3)
    ]
    parent = world.backup_configuration(sessions=sessions)
    related = [
        world.namespace(),
        world.appbinding(),
        world.backup_storage(),
        world.retention_policy(),
        *world.catalog(),
    ]
    children: list[dict] = []
    for _ in range(3):
        body = world.sync_body("backupconfiguration", parent, children, related)
        response = backupconfiguration.sync(parse_request(body))
        children = [
            world.observed(c, phase="Ready") if c["kind"] == "Repository" else world.observed(c)
            for c in response["children"]
        ]
        parent = {**parent, "status": response["status"]}
    return world.sync_body("backupconfiguration", parent, children, related)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(app_path: str, port: int, home: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ZKSTASH_HOOKS_BIND": f"127.0.0.1:{port}", "HOME": home}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "hooks/gunicorn.conf.py", app_path],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError(f"gunicorn for {app_path} did not start")


def _check(url: str, body: bytes) -> int:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as response:
        return len(response.read())


def _wrk(url: str, body_file: str, seconds: int) -> tuple[float, float]:
    """(requests/s, p99 ms) from one wrk run; fails on any socket error or non-2xx."""
    script = Path(body_file).with_suffix(".lua")
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'local f = io.open("{body_file}", "rb"); wrk.body = f:read("*a"); f:close()\n'
    )
    out = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk reported errors:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rate, p99


def main() -> None:
    """Run the benchmark and print one summary line per server."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    body = json.dumps(realistic_body()).encode()
    with tempfile.TemporaryDirectory(prefix="bench-hooks-") as tmp:
        body_file = os.path.join(tmp, "body.json")
        Path(body_file).write_bytes(body)
        targets = [
            ("BackupConfiguration hook", "hooks.app:app", "/sync/backupconfiguration"),
            ("Flask echo (peer)", "bench.bench_hooks:echo_app", "/sync/echo"),
        ]
        print(f"request {len(body)} B, {CONNECTIONS} connections, {args.runs} × {args.seconds} s")
        for label, app_path, path in targets:
            port = _free_port()
            server = _serve(app_path, port, tmp)
            try:
                url = f"http://127.0.0.1:{port}{path}"
                response_size = _check(url, body)
                runs = [_wrk(url, body_file, args.seconds) for _ in range(args.runs)]
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=20)
            rates = [r for r, _ in runs]
            p99s = [p for _, p in runs]
            print(
                f"{label:28s} median {statistics.median(rates):8.0f} req/s  "
                f"p99 median {statistics.median(p99s):6.2f} ms  "
                f"(runs: {', '.join(f'{r:.0f}/{p:.2f}ms' for r, p in runs)};"
                f" response {response_size} B)"
            )


if __name__ == "__main__":
    main()
