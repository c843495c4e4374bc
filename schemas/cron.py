"""Cron schedules as a Kubernetes CronJob accepts them: five fields or an @-macro."""

import re

from croniter import croniter

MACROS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
# (name, number of values) per field; a step above the span fires once per span at most, which
# croniter accepts but is nearly always a typo (e.g. */61 for minutes).
_FIELDS = (("minute", 60), ("hour", 24), ("day of month", 31), ("month", 12), ("day of week", 7))
_NUMERIC_FIELD = re.compile(r"[0-9*?,/-]+")
_NAMED_FIELD = re.compile(r"(?:[0-9*?,/-]|[A-Za-z]{3})+")  # JAN, MON-FRI …
_STEP = re.compile(r"/(\d+)$")


def is_valid_cron(expression: str) -> bool:
    """True when ``expression`` is a standard 5-field cron expression or an @-macro.

    croniter checks the field values; the extra checks reject what croniter allows but a
    Kubernetes CronJob does not (seconds/year fields, L/W/# extensions, over-large steps).
    """
    if expression in MACROS:
        return True
    fields = expression.split()
    if len(fields) != len(_FIELDS):
        return False
    for index, text in enumerate(fields):
        pattern = _NAMED_FIELD if index >= 3 else _NUMERIC_FIELD
        if not pattern.fullmatch(text):
            return False
        for part in text.split(","):
            step = _STEP.search(part)
            if step and not 1 <= int(step.group(1)) <= _FIELDS[index][1]:
                return False
    try:
        return bool(croniter.is_valid(expression))
    except Exception:  # croniter raises assorted errors on odd input; any of them means invalid
        return False
