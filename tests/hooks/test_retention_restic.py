"""Retention buckets agree with real `restic forget` on the same snapshot times."""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hooks.retention import RetentionRules, SnapshotRecord, observed_now, snapshots_to_keep

# Times chosen to straddle hours, days, an ISO-week boundary (Sun 2026-01-04 / Mon 01-05),
# months and years.
SNAPSHOT_TIMES = [
    "2024-11-30 23:10:00",
    "2025-06-15 12:00:00",
    "2025-12-31 23:59:00",
    "2026-01-01 00:01:00",
    "2026-01-04 08:00:00",
    "2026-01-04 20:00:00",
    "2026-01-05 07:00:00",
    "2026-01-05 07:40:00",
    "2026-01-05 08:10:00",
    "2026-01-06 09:00:00",
    "2026-02-01 10:00:00",
    "2026-02-01 10:30:00",
]


def restic(repo: Path, *args: str, input_bytes: bytes | None = None) -> bytes:
    env = {
        **os.environ,
        "RESTIC_REPOSITORY": str(repo),
        "RESTIC_PASSWORD": "retention-test",
        "TZ": "UTC",
        "RESTIC_CACHE_DIR": str(repo.parent / "cache"),
    }
    return subprocess.run(
        ["restic", *args], env=env, check=True, capture_output=True, input=input_bytes
    ).stdout


@pytest.fixture(scope="module")
def restic_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("retention") / "repo"
    restic(repo, "init")

    def backup(time: str) -> None:
        restic(
            repo,
            "backup",
            "--stdin",
            "--stdin-filename",
            "dump",
            "--host",
            "zk",
            "--time",
            time,
            input_bytes=time.encode(),
        )

    # Backups take only a shared lock, so they may run side by side.
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(backup, SNAPSHOT_TIMES))
    return repo


def restic_keeps(repo: Path, rules: RetentionRules) -> set[str]:
    flags = []
    for bucket in ("last", "hourly", "daily", "weekly", "monthly", "yearly"):
        if getattr(rules, bucket):
            flags += [f"--keep-{bucket}", str(getattr(rules, bucket))]
    out = json.loads(restic(repo, "forget", "--dry-run", "--json", "--group-by", "", *flags))
    return {snapshot["time"][:19].replace("T", " ") for group in out for snapshot in group["keep"]}


def our_keeps(rules: RetentionRules) -> set[str]:
    records = [
        SnapshotRecord(
            name=time, phase="Succeeded", time=datetime.fromisoformat(time).replace(tzinfo=UTC)
        )
        for time in SNAPSHOT_TIMES
    ]
    return set(snapshots_to_keep(records, rules, observed_now(records)))


@pytest.mark.parametrize(
    "rules",
    [
        RetentionRules(last=3),
        RetentionRules(hourly=5),
        RetentionRules(daily=4),
        RetentionRules(weekly=3),
        RetentionRules(monthly=4),
        RetentionRules(yearly=3),
        RetentionRules(last=1, hourly=2, daily=3, weekly=2, monthly=3, yearly=2),
        RetentionRules(last=2, weekly=10),
    ],
    ids=repr,
)
def test_buckets_keep_what_restic_forget_keeps(restic_repo: Path, rules: RetentionRules) -> None:
    assert our_keeps(rules) == restic_keeps(restic_repo, rules)
