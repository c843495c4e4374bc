"""Writes docs/reliability.md from the test run itself.

A test joins the report with ``@pytest.mark.reliability(area, case)``: ``area`` is the class of
fault or bad input ("Fault: ZooKeeper", "Bad input: streams", "Security", ...), ``case`` the one
thing it tries. A test that tries many generated inputs (hypothesis) records how many with
``record_property("cases", n)``. ``pytest --reliability-report=PATH`` writes the table; the
table is only ever produced by a run, never typed by hand.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class _Row:
    tests: int = 0
    cases: int = 0
    passed: int = 0
    failed: int = 0


# One pytest session per process; under xdist only the controller's rows are written.
_ROWS: defaultdict[tuple[str, str], _Row] = defaultdict(_Row)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--reliability-report",
        metavar="PATH",
        default=None,
        help="write the fault and bad-input table of this run to PATH (Markdown)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "reliability(area, case): a fault or bad-input case for docs/reliability.md"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("reliability")
        if marker is not None:
            area, case = marker.args
            item.user_properties.append(("reliability", f"{area}\t{case}"))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Runs in the controlling process under xdist too: user_properties travel with the report.
    props = dict(report.user_properties)
    key = props.get("reliability")
    if key is None:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        area, case = key.split("\t", 1)
        row = _ROWS[area, case]
        row.tests += 1
        row.cases += int(props.get("cases", 1))
        if report.outcome == "passed":
            row.passed += 1
        else:
            row.failed += 1


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("--reliability-report")
    if not path or hasattr(session.config, "workerinput"):
        return
    Path(path).write_text(render(_ROWS))


def render(rows: dict[tuple[str, str], _Row]) -> str:
    """The Markdown table of every area and case, sorted, with counts and the verdict."""
    lines = [
        "# Reliability report",
        "",
        "Every fault injected and every class of bad input tried by the test suite, with the",
        "number of cases and the result. Written by `make test` (`pytest",
        "--reliability-report=docs/reliability.md`); do not edit by hand.",
        "",
        "| area | case | tests | cases | result |",
        "|---|---|---:|---:|---|",
    ]
    for (area, case), row in sorted(rows.items()):
        verdict = "passed" if row.failed == 0 else f"**{row.failed} failed**"
        lines.append(f"| {area} | {case} | {row.tests} | {row.cases} | {verdict} |")
    total_failed = sum(r.failed for r in rows.values())
    lines += [
        "",
        f"{len(rows)} cases in {sum(r.tests for r in rows.values())} tests, "
        f"{sum(r.cases for r in rows.values())} inputs; {total_failed} failed.",
        "",
    ]
    return "\n".join(lines)
