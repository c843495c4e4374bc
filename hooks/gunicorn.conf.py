"""gunicorn settings for the hooks server: ``gunicorn -c hooks/gunicorn.conf.py hooks.app:app``.

Environment: ``ZKSTASH_HOOKS_BIND`` (default 127.0.0.1:8080; the container sets 0.0.0.0:8080),
``ZKSTASH_HOOKS_WORKERS`` (default 2, one per core: hooks are CPU-bound pure functions).

Why these settings (measured in bench/RESULTS.md, "Hooks"):
- ``hooks.worker.HookWorker``, gunicorn's ``gthread`` worker answering each request on its own
  thread: connections are kept alive, as Metacontroller's Go client expects (the ``sync``
  worker closes every connection after one request), without gthread's thread hand-offs.
- One listening socket shared by the workers, not ``reuse_port``: with ``reuse_port`` the
  kernel hashes each connection onto one worker and the split is a lottery; on the shared
  socket the least busy worker accepts (hooks/worker.py).
"""

import os
import shutil
import tempfile

bind = os.environ.get("ZKSTASH_HOOKS_BIND", "127.0.0.1:8080")
workers = int(os.environ.get("ZKSTASH_HOOKS_WORKERS", "2"))
worker_class = "hooks.worker.HookWorker"
keepalive = 5
timeout = 30
accesslog = None
# gunicorn 27 otherwise creates a control socket under $HOME/.gunicorn (read-only in the pod).
control_socket_disable = True

# Metrics from every worker are aggregated through files in this directory (prometheus_client
# multiprocess mode); it must be set before any worker imports prometheus_client.
_owns_metrics_dir = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
if _owns_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="zkstash-hooks-metrics-")
else:
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    """Drop a dead worker's live gauges (prometheus_client multiprocess bookkeeping)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):  # type: ignore[no-untyped-def]
    """Remove the metrics directory this configuration created."""
    if _owns_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
