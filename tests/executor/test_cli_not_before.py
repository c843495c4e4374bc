"""`executor backup --not-before`: a retry waits for its retryConfig.delay before connecting to
anything (real ZooKeeper, real restic), a past time does not wait, a signal ends the wait, and a
malformed time is a usage error naming the option."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from tests.executor.test_cli import Run, backup, executor, seed
from tests.infra.s3_fixtures import LocalResticRepository
from tests.infra.zookeeper import ZooKeeperServer

WAIT_LINE = "waiting until "


def log_lines(run: Run) -> list[dict]:
    """The JSON log lines the executor wrote on stderr."""
    return [json.loads(line) for line in run.stderr.splitlines() if line.startswith("{")]


def utc(text: str) -> dt.datetime:
    """An RFC 3339 time; restic's nanoseconds cut to the microseconds Python holds."""
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


def delayed_backup(
    zookeeper: ZooKeeperServer, root: str, repository: LocalResticRepository, not_before: str
) -> Run:
    return backup(
        zookeeper,
        root,
        str(repository.path),
        env=repository.env(),
        options=("--not-before", not_before),
    )


def test_backup_waits_for_not_before_before_connecting(
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    restic_repository: LocalResticRepository,
) -> None:
    seed(zk_client, zk_root, count=5)
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1.5)
    stamp = soon.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    not_before = utc(stamp)
    made = delayed_backup(zookeeper, zk_root, restic_repository, stamp)
    assert made.code == 0, made.stderr
    lines = log_lines(made)
    assert lines[0]["msg"].startswith(f"{WAIT_LINE}{stamp[:19]}")
    assert "retry delay" in lines[0]["msg"]
    assert all(utc(line["time"]) >= not_before for line in lines[1:])
    # restic stamps the snapshot when its backup begins: it was not reached earlier.
    [snapshot] = json.loads(restic_repository.restic("snapshots", "--json").stdout)
    assert utc(snapshot["time"]) >= not_before
    # The result's startTime is when the backup began (whole seconds, as Kubernetes writes).
    assert utc(made.result["startTime"]) >= not_before.replace(microsecond=0)


def test_a_not_before_time_in_the_past_does_not_wait(
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    restic_repository: LocalResticRepository,
) -> None:
    seed(zk_client, zk_root, count=5)
    made = delayed_backup(zookeeper, zk_root, restic_repository, "2024-09-17T11:41:20Z")
    assert made.code == 0, made.stderr
    assert not any(line["msg"].startswith(WAIT_LINE) for line in log_lines(made))


@pytest.mark.parametrize(
    "value",
    [
        "in five minutes",
        "2024-09-17T11:41:20",  # no offset: not a point in time
        "2024-09-17",
        "2024-13-17T11:41:20Z",
    ],
)
def test_a_malformed_not_before_is_a_usage_error_naming_the_option(
    value: str, tmp_path: Path
) -> None:
    made = executor(
        "backup",
        "--zookeeper",
        "127.0.0.1:9",
        "--repository",
        str(tmp_path / "repo"),
        f"--not-before={value}",
        env={"RESTIC_PASSWORD": "x"},
    )
    assert made.code == 2
    assert made.result["phase"] == "Failed"
    assert made.result["error"].startswith("argument --not-before: ")
    assert repr(value) in made.result["error"]
    assert "Traceback" not in made.stderr


def test_sigterm_during_the_wait_ends_the_backup_at_once(tmp_path: Path) -> None:
    far = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    base = {key: os.environ[key] for key in ("PATH", "HOME", "TMPDIR") if key in os.environ}
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "executor", "backup", "--zookeeper", "127.0.0.1:9"),
            *("--repository", str(tmp_path / "repo"), "--not-before", far, "--log-format", "json"),
        ],
        env={**base, "PYTHONPATH": str(Path.cwd()), "RESTIC_PASSWORD": "x"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        assert json.loads(first)["msg"].startswith(f"{WAIT_LINE}{far}")
        process.send_signal(signal.SIGTERM)
        stdout, _ = process.communicate(timeout=10)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 1
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["error"].startswith("terminated by SIGTERM before completion")
