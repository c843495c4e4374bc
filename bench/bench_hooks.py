"""Hooks throughput: syncs/s and p99 of the BackupConfiguration hook under gunicorn.

Load: wrk (Debian) with 16 keep-alive connections, posting one realistic sync request — a
BackupConfiguration with 3 sessions × 2 repositories and every child observed (6 Repositories,
3 CronJobs, 3 BackupSessions, ServiceAccount, RoleBinding) plus related storages, policies,
AppBinding and the addon catalog. Peer in the same run: an echo hook (read the JSON body with
the hooks' own reader and codec, send it back) under the same gunicorn settings — the ceiling
for "HTTP + JSON" on this machine. Hook and peer runs alternate; medians are reported.

Besides req/s and latency each run records the CPU time the server's workers and wrk spent per
request (from /proc and getrusage): unlike req/s it hardly moves when other processes share
the cores, and 2 cores / (CPU per request) is the rate this machine could reach unshared. It
also records how many cores other processes kept busy during the run (all busy CPU time in
/proc/stat less ours); ``--max-busy`` waits for a quiet machine before each run.

    .venv/bin/python -m bench.bench_hooks [--runs 5] [--seconds 10] [--max-busy 0.3]
        [--gunicorn "-k sync"]  # other server settings, for both servers
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hooks.app import read_json_body, respond
from hooks.controllers import backupconfiguration
from hooks.protocol import encode_json, parse_request
from tests.hooks import world

ROOT = Path(__file__).resolve().parents[1]
CONNECTIONS = 16
CORES = os.cpu_count() or 1
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def echo_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The peer: decode the JSON body and send it back, as the hooks server reads and writes."""
    return respond(start_response, (200, "application/json", encode_json(read_json_body(environ))))


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


@dataclass(frozen=True)
class Run:
    """One wrk run against one server."""

    rate: float  # requests/s
    p50_ms: float
    p99_ms: float
    server_cpu_ms: float  # CPU time of the gunicorn workers per request
    wrk_cpu_ms: float  # CPU time of wrk per request
    load: float  # 1-minute load average when the run started
    others: float  # cores other processes kept busy during the run
    split: tuple[int, ...] = ()  # wrk's connections held by each worker, most first


@dataclass(frozen=True)
class Target:
    """A server under test."""

    label: str
    app_path: str
    path: str


TARGETS = (
    Target("BackupConfiguration hook", "hooks.app:app", "/sync/backupconfiguration"),
    Target("echo peer (HTTP + JSON)", "bench.bench_hooks:echo_app", "/sync/echo"),
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(app_path: str, port: int, home: str, extra: list[str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ZKSTASH_HOOKS_BIND": f"127.0.0.1:{port}", "HOME": home}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "hooks/gunicorn.conf.py", *extra, app_path],
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


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=20)


def _check(url: str, body: bytes) -> int:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as response:
        data = response.read()
    json.loads(data)
    return len(data)


def _worker_stats(arbiter_pid: int) -> dict[int, list[str]]:
    """/proc/<pid>/stat fields (after "pid (comm)") of the arbiter's live child processes."""
    workers = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # state, ppid, ...
        if int(fields[1]) == arbiter_pid:
            workers[int(entry)] = fields
    return workers


def _worker_pids(arbiter_pid: int) -> list[int]:
    return list(_worker_stats(arbiter_pid))


def _workers_cpu_seconds(arbiter_pid: int) -> float:
    """User + system CPU time of the arbiter's live child processes (the workers)."""
    ticks = sum(int(f[11]) + int(f[12]) for f in _worker_stats(arbiter_pid).values())
    return ticks / CLOCK_TICKS  # utime + stime


def _established_inodes(port: int) -> set[str]:
    """Socket inodes of established TCP connections whose local port is `port`."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
            inodes.add(fields[9])
    return inodes


def _connection_split(arbiter_pid: int, port: int) -> tuple[int, ...]:
    """How many of the server's established connections each worker holds, most first: the
    busier worker sets the tail latency."""
    inodes = _established_inodes(port)
    counts = []
    for worker in _worker_pids(arbiter_pid):
        try:
            links = [
                os.readlink(f"/proc/{worker}/fd/{fd}") for fd in os.listdir(f"/proc/{worker}/fd")
            ]
        except OSError:
            continue
        counts.append(sum(link[8:-1] in inodes for link in links if link.startswith("socket:[")))
    return tuple(sorted(counts, reverse=True))


def _system_busy_seconds() -> float:
    """CPU time every process on the machine has spent (all cores, from /proc/stat)."""
    ticks = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    # user nice system idle iowait irq softirq steal; guest time is counted in user already.
    return (sum(ticks) - ticks[3] - ticks[4]) / CLOCK_TICKS


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _latency_ms(out: str, percentile: str) -> float:
    value, unit = re.search(rf"{percentile}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _wrk(url: str, script: Path, seconds: int, arbiter_pid: int, port: int) -> Run:
    """One wrk run; fails on any socket error or non-2xx answer."""
    load = os.getloadavg()[0]
    server_before, wrk_before = _workers_cpu_seconds(arbiter_pid), _children_cpu_seconds()
    busy_before, started = _system_busy_seconds(), time.monotonic()
    wrk = subprocess.Popen(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(min(1.0, seconds / 2))  # wrk has opened every connection by now
    split = _connection_split(arbiter_pid, port)
    out, _ = wrk.communicate()
    if wrk.returncode != 0:
        raise RuntimeError(f"wrk failed ({wrk.returncode}):\n{out}")
    busy = _system_busy_seconds() - busy_before
    elapsed = time.monotonic() - started
    server_cpu = _workers_cpu_seconds(arbiter_pid) - server_before
    wrk_cpu = _children_cpu_seconds() - wrk_before
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk reported errors:\n{out}")
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return Run(
        rate=rate,
        p50_ms=_latency_ms(out, "50"),
        p99_ms=_latency_ms(out, "99"),
        server_cpu_ms=server_cpu / requests * 1000,
        wrk_cpu_ms=wrk_cpu / requests * 1000,
        load=load,
        others=max(0.0, busy - server_cpu - wrk_cpu) / elapsed,
        split=split,
    )


def _busy_cores(seconds: float = 2.0) -> float:
    """Cores busy over the next SECONDS (our servers idle meanwhile: other processes' use)."""
    before = _system_busy_seconds()
    time.sleep(seconds)
    return (_system_busy_seconds() - before) / seconds


def _wait_for_quiet(max_busy: float | None, patience: float) -> None:
    """Wait (up to PATIENCE seconds) until other processes keep at most MAX_BUSY cores busy.

    The load average would not do: it still counts the previous run for a minute."""
    deadline = time.monotonic() + patience
    while max_busy is not None and _busy_cores() > max_busy and time.monotonic() < deadline:
        pass


def _summary(label: str, runs: list[Run]) -> str:
    def median(values: Iterable[float]) -> float:
        return statistics.median(list(values))

    cpu = median(r.server_cpu_ms + r.wrk_cpu_ms for r in runs)
    p50, p99 = median(r.p50_ms for r in runs), median(r.p99_ms for r in runs)
    return (
        f"{label:26s} median {median(r.rate for r in runs):6.0f} req/s  "
        f"p50 {p50:5.2f} ms  p99 {p99:5.2f} ms  "
        f"CPU/req server {median(r.server_cpu_ms for r in runs):.3f} ms + wrk "
        f"{median(r.wrk_cpu_ms for r in runs):.3f} ms -> {CORES}-core ceiling "
        f"{CORES / cpu * 1000:5.0f} req/s\n    runs (req/s / p99 ms / load average / cores "
        "busy with other processes / connections per worker): "
        + ", ".join(
            f"{r.rate:.0f}/{r.p99_ms:.1f}/{r.load:.1f}/{r.others:.2f}/"
            + "+".join(map(str, r.split))
            for r in runs
        )
    )


def main() -> None:
    """Run the benchmark and print one summary per server."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument(
        "--max-busy",
        type=float,
        default=None,
        help="before each run, wait until other processes keep at most this many cores busy",
    )
    parser.add_argument("--patience", type=float, default=300, help="longest wait, s")
    parser.add_argument(
        "--gunicorn",
        default="",
        help="extra gunicorn options for both servers, e.g. '-k gthread --threads 2 --reuse-port'",
    )
    args = parser.parse_args()
    body = json.dumps(realistic_body()).encode()
    with tempfile.TemporaryDirectory(prefix="bench-hooks-") as tmp:
        body_file = Path(tmp, "body.json")
        body_file.write_bytes(body)
        script = Path(tmp, "post.lua")
        script.write_text(
            'wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f'local f = io.open("{body_file}", "rb"); wrk.body = f:read("*a"); f:close()\n'
        )
        servers = {}
        try:
            for target in TARGETS:
                port = _free_port()
                extra = shlex.split(args.gunicorn)
                servers[target] = (_serve(target.app_path, port, tmp, extra), port)
            sizes = {}
            for target, (_, port) in servers.items():
                url = f"http://127.0.0.1:{port}{target.path}"
                sizes[target] = _check(url, body)
                for _ in range(50):  # warm the workers (imports, caches)
                    _check(url, body)
            print(
                f"request {len(body)} B; responses: hook {sizes[TARGETS[0]]} B, "
                f"echo {sizes[TARGETS[1]]} B; {CONNECTIONS} connections, "
                f"{args.runs} × {args.seconds} s each, alternating; "
                f"gunicorn -c hooks/gunicorn.conf.py {args.gunicorn}".rstrip()
            )
            runs: dict[Target, list[Run]] = {target: [] for target in TARGETS}
            for round_number in range(args.runs):
                order = TARGETS if round_number % 2 == 0 else TARGETS[::-1]
                for target in order:
                    server, port = servers[target]
                    _wait_for_quiet(args.max_busy, args.patience)
                    url = f"http://127.0.0.1:{port}{target.path}"
                    runs[target].append(_wrk(url, script, args.seconds, server.pid, port))
        finally:
            for server, _ in servers.values():
                _stop(server)
        for target in TARGETS:
            print(_summary(target.label, runs[target]))


if __name__ == "__main__":
    main()
