"""Smoke test of the executor benchmark code on a tiny tree (the benchmark itself is never run
by the test suite)."""

from __future__ import annotations

from bench.bench_executor import main


def test_benchmark_runs_end_to_end_on_a_tiny_tree():
    text = main(["--parents", "2", "--children", "3", "--runs", "1", "--peer-runs", "1"])
    assert "9 znodes" in text
    assert "zk-shell 1.3.4 `cp` → JSON (peer)" in text
