"""Which Snapshots a RetentionPolicy keeps: a pure function of the observed Snapshots.

The rules are KubeStash's (`RetentionPolicy.spec`), evaluated the way `restic forget` evaluates
its `--keep-*` flags:

- successful Snapshots: the union of the `last`, `hourly`, `daily`, `weekly`, `monthly` and
  `yearly` buckets. Walking from newest to oldest, a bucket keeps a Snapshot when its period
  (hour, day, ISO week, month, year; UTC) differs from the previous Snapshot that bucket kept,
  until the bucket's count is used up. `last` keeps the newest N outright.
- failed Snapshots: the newest `failedSnapshots.last` (default 1).
- `maxRetentionPeriod`: Snapshots older than `now - period` are dropped, whatever the buckets
  say. `now` is passed in by the caller and must come from an observed object (the newest
  Snapshot), never the clock, so the answer is the same on every call.
- Snapshots that are not finished (Pending, Running, no phase) are always kept: their backup
  may still be writing to the repository.
- The newest successful Snapshot is always kept, so that no policy can leave a repository with
  nothing to restore.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

SUCCEEDED = "Succeeded"
FAILED = "Failed"

# The order restic applies its buckets in; the union does not depend on it, but a fixed order
# keeps the walk easy to follow.
BUCKETS = ("last", "hourly", "daily", "weekly", "monthly", "yearly")


@dataclass(frozen=True)
class SnapshotRecord:
    """What retention needs to know about one Snapshot."""

    name: str
    phase: str
    time: datetime


@dataclass(frozen=True)
class RetentionRules:
    """A RetentionPolicy spec, parsed. A count of 0 means the bucket is not used."""

    last: int = 0
    hourly: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0
    yearly: int = 0
    failed_last: int = 1
    max_retention_period: timedelta | None = None
    # True when the policy names no successful-snapshot buckets: then every successful
    # Snapshot inside maxRetentionPeriod is kept.
    keep_all_successful: bool = False


def _period_key(bucket: str) -> Callable[[SnapshotRecord], object]:
    """The function mapping a Snapshot to the period a bucket groups by."""
    keys: dict[str, Callable[[SnapshotRecord], object]] = {
        # `last` puts every Snapshot in its own period, so it keeps the newest N outright.
        "last": lambda record: record.name,
        "hourly": lambda record: (
            record.time.year,
            record.time.month,
            record.time.day,
            record.time.hour,
        ),
        "daily": lambda record: (record.time.year, record.time.month, record.time.day),
        "weekly": lambda record: record.time.isocalendar()[:2],
        "monthly": lambda record: (record.time.year, record.time.month),
        "yearly": lambda record: record.time.year,
    }
    return keys[bucket]


def newest_first(records: Iterable[SnapshotRecord]) -> list[SnapshotRecord]:
    """Records sorted newest first; ties broken by name so the order is total."""
    return sorted(records, key=lambda record: (record.time, record.name), reverse=True)


def _kept_by_buckets(successful: list[SnapshotRecord], rules: RetentionRules) -> set[str]:
    """Names the `--keep-*`-style buckets keep out of `successful` (sorted newest first)."""
    kept: set[str] = set()
    for bucket in BUCKETS:
        remaining = getattr(rules, bucket)
        period_of = _period_key(bucket)
        previous: object = None
        for record in successful:
            if remaining <= 0:
                break
            period = period_of(record)
            if period != previous:
                kept.add(record.name)
                previous = period
                remaining -= 1
    return kept


def snapshots_to_keep(
    records: Iterable[SnapshotRecord], rules: RetentionRules, now: datetime
) -> frozenset[str]:
    """Names of the Snapshots `rules` keeps, given the observed Snapshots and an observed `now`."""
    ordered = newest_first(records)
    successful = [record for record in ordered if record.phase == SUCCEEDED]
    failed = [record for record in ordered if record.phase == FAILED]
    unfinished = {record.name for record in ordered if record.phase not in (SUCCEEDED, FAILED)}

    if rules.keep_all_successful:
        kept_successful = {record.name for record in successful}
    else:
        kept_successful = _kept_by_buckets(successful, rules)
    kept_failed = {record.name for record in failed[: max(rules.failed_last, 0)]}
    kept = kept_successful | kept_failed

    if rules.max_retention_period is not None:
        cutoff = now - rules.max_retention_period
        expired = {record.name for record in ordered if record.time < cutoff}
        kept -= expired

    if successful:
        kept.add(successful[0].name)
    return frozenset(kept | unfinished)


def observed_now(records: Iterable[SnapshotRecord]) -> datetime | None:
    """The newest time among the observed Snapshots: retention's "now" (None when empty)."""
    times = [record.time for record in records]
    return max(times) if times else None


class RetentionPolicyError(ValueError):
    """A RetentionPolicy field that cannot be used; `field` is its path from the object root."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _count(section: dict, name: str, field: str) -> int:
    value = section.get(name, 0)
    if value is None:
        return 0
    # bool is an int subclass; `last: true` is a typo, not a count.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RetentionPolicyError(
            f"{field}.{name}", f"must be a non-negative integer, got {value!r}"
        )
    return value


def rules_from_policy(spec: dict, parse_duration: Callable[[str], timedelta]) -> RetentionRules:
    """Parse a RetentionPolicy `spec` into rules; RetentionPolicyError names the bad field.

    `parse_duration` turns KubeStash durations ("30d12h", "2mo") into timedeltas; it is passed
    in so this module stays free of the schema package.
    """
    successful = spec.get("successfulSnapshots")
    failed = spec.get("failedSnapshots")
    period_text = spec.get("maxRetentionPeriod")
    if successful is not None and not isinstance(successful, dict):
        raise RetentionPolicyError("spec.successfulSnapshots", "must be an object")
    if failed is not None and not isinstance(failed, dict):
        raise RetentionPolicyError("spec.failedSnapshots", "must be an object")
    if successful is None and not period_text:
        raise RetentionPolicyError(
            "spec", "needs at least one of maxRetentionPeriod or successfulSnapshots"
        )
    period: timedelta | None = None
    if period_text:
        try:
            period = parse_duration(str(period_text))
        except ValueError as error:
            raise RetentionPolicyError("spec.maxRetentionPeriod", str(error)) from None
    successful = successful or {}
    counts = {bucket: _count(successful, bucket, "spec.successfulSnapshots") for bucket in BUCKETS}
    failed_last = (
        1
        if failed is None or "last" not in failed
        else _count(failed, "last", "spec.failedSnapshots")
    )
    return RetentionRules(
        **counts,
        failed_last=failed_last,
        max_retention_period=period,
        keep_all_successful=spec.get("successfulSnapshots") is None,
    )
