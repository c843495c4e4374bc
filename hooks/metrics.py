"""Prometheus metrics of the hooks server, safe under several gunicorn worker processes.

With ``PROMETHEUS_MULTIPROC_DIR`` set (``hooks/gunicorn.conf.py`` sets it), every worker writes
its samples to files there and ``/metrics`` aggregates all workers; without it (tests, a single
process) the default in-process registry is served.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

SYNCS = Counter(
    "zkstash_hook_requests_total", "Hook calls answered", ["controller", "hook", "code"]
)
ERRORS = Counter(
    "zkstash_hook_errors_total", "Hook calls that failed (4xx/5xx)", ["controller", "hook"]
)
LATENCY = Histogram(
    "zkstash_hook_latency_seconds",
    "Time to answer a hook call",
    ["controller", "hook"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0),
)


def exposition() -> tuple[bytes, str]:
    """(body, content type) of the /metrics page, aggregated across workers when possible."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
