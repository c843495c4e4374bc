"""Retention: which Snapshots a RetentionPolicy keeps (hooks/retention.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hooks.retention import (
    RetentionPolicyError,
    RetentionRules,
    SnapshotRecord,
    newest_first,
    observed_now,
    rules_from_policy,
    snapshots_to_keep,
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ok(name: str, time: str) -> SnapshotRecord:
    return SnapshotRecord(name=name, phase="Succeeded", time=at(time))


def failed(name: str, time: str) -> SnapshotRecord:
    return SnapshotRecord(name=name, phase="Failed", time=at(time))


def running(name: str, time: str) -> SnapshotRecord:
    return SnapshotRecord(name=name, phase="Running", time=at(time))


def days(n: int) -> timedelta:
    return timedelta(days=n)


def parse_days(text: str) -> timedelta:
    """A tiny duration parser for these tests: "<n>d" only."""
    if not text.endswith("d") or not text[:-1].isdigit():
        raise ValueError(f'"{text}" is not a duration')
    return days(int(text[:-1]))


HOURLY_DAY = [
    ok("s1", "2026-03-01T10:05:00"),
    ok("s2", "2026-03-01T10:35:00"),
    ok("s3", "2026-03-01T11:05:00"),
    ok("s4", "2026-03-01T12:05:00"),
    ok("s5", "2026-03-02T09:00:00"),
]


def test_last_keeps_the_newest_n_successful_snapshots() -> None:
    kept = snapshots_to_keep(HOURLY_DAY, RetentionRules(last=2), at("2026-03-02T09:00:00"))
    assert kept == {"s5", "s4"}


def test_hourly_keeps_the_newest_snapshot_of_each_hour() -> None:
    kept = snapshots_to_keep(HOURLY_DAY, RetentionRules(hourly=4), at("2026-03-02T09:00:00"))
    assert kept == {"s5", "s4", "s3", "s2"}


def test_daily_keeps_the_newest_snapshot_of_each_day() -> None:
    kept = snapshots_to_keep(HOURLY_DAY, RetentionRules(daily=5), at("2026-03-02T09:00:00"))
    assert kept == {"s5", "s4"}


def test_buckets_are_a_union() -> None:
    kept = snapshots_to_keep(HOURLY_DAY, RetentionRules(last=1, daily=2), at("2026-03-02T09:00:00"))
    assert kept == {"s5", "s4"}
    kept = snapshots_to_keep(HOURLY_DAY, RetentionRules(last=3, daily=2), at("2026-03-02T09:00:00"))
    assert kept == {"s5", "s4", "s3"}


def test_weekly_groups_by_iso_week() -> None:
    # 2026-01-04 is a Sunday (ISO week 1), 2026-01-05 a Monday (ISO week 2).
    records = [
        ok("sun", "2026-01-04T12:00:00"),
        ok("mon", "2026-01-05T12:00:00"),
        ok("tue", "2026-01-06T12:00:00"),
    ]
    kept = snapshots_to_keep(records, RetentionRules(weekly=2), at("2026-01-06T12:00:00"))
    assert kept == {"tue", "sun"}


def test_monthly_and_yearly_group_by_calendar_period() -> None:
    records = [
        ok("dec24", "2024-12-20T00:00:00"),
        ok("jan25", "2025-01-10T00:00:00"),
        ok("feb25a", "2025-02-01T00:00:00"),
        ok("feb25b", "2025-02-15T00:00:00"),
    ]
    now = at("2025-02-15T00:00:00")
    assert snapshots_to_keep(records, RetentionRules(monthly=2), now) == {"feb25b", "jan25"}
    assert snapshots_to_keep(records, RetentionRules(yearly=2), now) == {"feb25b", "dec24"}


def test_failed_snapshots_keep_the_newest_n_failed() -> None:
    records = [
        *HOURLY_DAY,
        failed("f1", "2026-03-01T09:00:00"),
        failed("f2", "2026-03-02T08:00:00"),
    ]
    now = at("2026-03-02T09:00:00")
    assert snapshots_to_keep(records, RetentionRules(last=1), now) == {"s5", "f2"}
    assert snapshots_to_keep(records, RetentionRules(last=1, failed_last=0), now) == {"s5"}
    assert snapshots_to_keep(records, RetentionRules(last=1, failed_last=5), now) == {
        "s5",
        "f2",
        "f1",
    }


def test_max_retention_period_drops_older_snapshots_whatever_the_buckets_say() -> None:
    rules = RetentionRules(last=10, max_retention_period=timedelta(hours=22))
    kept = snapshots_to_keep(HOURLY_DAY, rules, at("2026-03-02T09:00:00"))
    assert kept == {"s5", "s4", "s3"}


def test_max_retention_period_alone_keeps_every_successful_snapshot_inside_it() -> None:
    rules = RetentionRules(max_retention_period=timedelta(hours=22), keep_all_successful=True)
    kept = snapshots_to_keep(HOURLY_DAY, rules, at("2026-03-02T09:00:00"))
    assert kept == {"s5", "s4", "s3"}


def test_unfinished_snapshots_are_always_kept() -> None:
    records = [*HOURLY_DAY, running("r-old", "2020-01-01T00:00:00")]
    rules = RetentionRules(last=1, max_retention_period=days(1))
    assert snapshots_to_keep(records, rules, at("2026-03-02T09:00:00")) == {"s5", "r-old"}


def test_the_newest_successful_snapshot_survives_an_expired_period() -> None:
    records = [ok("old", "2026-01-01T00:00:00"), failed("f", "2026-03-01T00:00:00")]
    rules = RetentionRules(last=3, max_retention_period=days(7))
    assert snapshots_to_keep(records, rules, at("2026-03-01T00:00:00")) == {"old", "f"}


def test_observed_now_is_the_newest_record_time() -> None:
    assert observed_now(HOURLY_DAY) == at("2026-03-02T09:00:00")
    assert observed_now([]) is None


def test_rules_from_policy_reads_every_field() -> None:
    rules = rules_from_policy(
        {
            "maxRetentionPeriod": "30d",
            "successfulSnapshots": {
                "last": 5,
                "hourly": 1,
                "daily": 2,
                "weekly": 3,
                "monthly": 4,
                "yearly": 6,
            },
            "failedSnapshots": {"last": 2},
        },
        parse_days,
    )
    assert rules == RetentionRules(
        last=5,
        hourly=1,
        daily=2,
        weekly=3,
        monthly=4,
        yearly=6,
        failed_last=2,
        max_retention_period=days(30),
    )


def test_rules_from_policy_defaults_failed_last_to_one() -> None:
    assert rules_from_policy({"successfulSnapshots": {"last": 1}}, parse_days).failed_last == 1


def test_rules_from_policy_with_period_only_keeps_all_successful() -> None:
    assert rules_from_policy({"maxRetentionPeriod": "7d"}, parse_days).keep_all_successful


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({}, "spec"),
        ({"maxRetentionPeriod": "soon"}, "spec.maxRetentionPeriod"),
        ({"successfulSnapshots": {"last": -1}}, "spec.successfulSnapshots.last"),
        ({"successfulSnapshots": {"daily": "two"}}, "spec.successfulSnapshots.daily"),
        ({"successfulSnapshots": {"last": True}}, "spec.successfulSnapshots.last"),
        (
            {"successfulSnapshots": {}, "failedSnapshots": {"last": 1.5}},
            "spec.failedSnapshots.last",
        ),
        ({"successfulSnapshots": []}, "spec.successfulSnapshots"),
    ],
)
def test_rules_from_policy_names_the_bad_field(spec: dict, field: str) -> None:
    with pytest.raises(RetentionPolicyError) as raised:
        rules_from_policy(spec, parse_days)
    assert raised.value.field == field
    assert str(raised.value).startswith(f"{field}: ")


# --- properties ---------------------------------------------------------------------------

EPOCH = at("2024-01-01T00:00:00")

record_lists = st.lists(
    st.tuples(
        st.sampled_from(["Succeeded", "Failed", "Running", "Pending"]),
        st.integers(min_value=0, max_value=3 * 365 * 24 * 60),
    ),
    max_size=40,
    unique_by=lambda item: item[1],
).map(
    lambda items: [
        SnapshotRecord(name=f"snap-{index}", phase=phase, time=EPOCH + timedelta(minutes=minute))
        for index, (phase, minute) in enumerate(items)
    ]
)

counts = st.integers(min_value=0, max_value=6)
rule_sets = st.builds(
    RetentionRules,
    last=counts,
    hourly=counts,
    daily=counts,
    weekly=counts,
    monthly=counts,
    yearly=counts,
    failed_last=counts,
    max_retention_period=st.none() | st.integers(min_value=0, max_value=800).map(days),
    keep_all_successful=st.booleans(),
)


def keep(records: list[SnapshotRecord], rules: RetentionRules) -> frozenset[str]:
    return snapshots_to_keep(records, rules, observed_now(records) or EPOCH)


@settings(max_examples=300)
@given(record_lists, rule_sets)
def test_property_newest_successful_snapshot_is_never_dropped(records, rules) -> None:
    successful = newest_first(r for r in records if r.phase == "Succeeded")
    if successful:
        assert successful[0].name in keep(records, rules)


@settings(max_examples=300)
@given(record_lists, rule_sets)
def test_property_unfinished_snapshots_are_never_dropped(records, rules) -> None:
    unfinished = {r.name for r in records if r.phase in ("Running", "Pending")}
    assert unfinished <= keep(records, rules)


@settings(max_examples=300)
@given(record_lists, rule_sets, st.randoms(use_true_random=False))
def test_property_answer_does_not_depend_on_input_order(records, rules, rnd: random.Random) -> None:
    shuffled = list(records)
    rnd.shuffle(shuffled)
    assert keep(shuffled, rules) == keep(records, rules)


@settings(max_examples=300)
@given(record_lists, rule_sets)
def test_property_kept_names_are_observed_names(records, rules) -> None:
    assert keep(records, rules) <= {r.name for r in records}


@settings(max_examples=300)
@given(record_lists, rule_sets)
def test_property_each_bucket_keeps_at_most_its_count(records, rules) -> None:
    if rules.keep_all_successful:
        return
    kept_successful = {r.name for r in records if r.phase == "Succeeded"} & keep(records, rules)
    bound = rules.last + rules.hourly + rules.daily + rules.weekly + rules.monthly + rules.yearly
    assert len(kept_successful) <= max(bound, 1)
    kept_failed = {r.name for r in records if r.phase == "Failed"} & keep(records, rules)
    assert len(kept_failed) <= rules.failed_last


@settings(max_examples=300)
@given(record_lists, rule_sets)
def test_property_nothing_outside_the_period_is_kept_but_the_newest_success(records, rules):
    if rules.max_retention_period is None or not records:
        return
    cutoff = observed_now(records) - rules.max_retention_period
    successful = newest_first(r for r in records if r.phase == "Succeeded")
    protected = {successful[0].name} if successful else set()
    finished_kept = {
        r.name for r in records if r.phase in ("Succeeded", "Failed") and r.time < cutoff
    } & keep(records, rules)
    assert finished_kept <= protected


@settings(max_examples=200)
@given(
    record_lists,
    rule_sets,
    st.sampled_from(["last", "hourly", "daily", "weekly", "monthly", "yearly", "failed_last"]),
)
def test_property_raising_a_count_never_drops_a_snapshot(records, rules, field) -> None:
    more = RetentionRules(**{**rules.__dict__, field: getattr(rules, field) + 1})
    assert keep(records, rules) <= keep(records, more)
