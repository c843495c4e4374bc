"""Cron schedules are checked as a Kubernetes CronJob reads them."""

import pytest

from schemas.cron import is_valid_cron


@pytest.mark.parametrize(
    "schedule",
    [
        "*/5 * * * *",
        "0 2 * * 1-5",
        "5,10 */2 1-15/3 * SUN",
        "0 0 1 JAN *",
        "@hourly",
        "@daily",
        "@midnight",
        "@weekly",
        "@monthly",
        "@yearly",
        "@annually",
        "*/60 * * * *",
    ],
)
def test_standard_schedule_is_valid(schedule):
    assert is_valid_cron(schedule)


@pytest.mark.parametrize(
    "schedule",
    [
        "*/61 * * * *",
        "60 * * * *",
        "* 24 * * *",
        "* * * * 8",
        "*/0 * * * *",
        "0 0 * * * *",
        "* * * *",
        "0 0 L * *",
        "@every 1h",
        "@reboot",
        "TZ=UTC 0 0 * * *",
        "",
        "every day",
    ],
)
def test_nonstandard_or_out_of_range_schedule_is_invalid(schedule):
    assert not is_valid_cron(schedule)
