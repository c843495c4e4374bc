"""The hooks server's gunicorn worker: gunicorn's ``gthread`` connection handling, with each
request answered on the worker's own thread and new connections dealt out to the workers in turn.

Hooks are short CPU-bound functions, so a thread pool buys nothing under the GIL and costs a
lot (bench/RESULTS.md, "Hooks"):

- In ``gthread`` every request crosses threads twice: the poller hands it to a pool thread,
  and the pool thread hands the connection back through a pipe. Those wake-ups, the extra
  syscalls and the GIL hand-offs are about a tenth of a sync's CPU. Here the poller answers
  the request itself, so ready requests are served one after the other in the order they
  became ready.
- With ``reuse_port`` the kernel hashes each connection onto one worker's socket, and
  16 connections split like 16 coin flips (10+6 or worse half of the time). The busier worker's
  queue sets the tail latency. Here all workers accept from one shared socket, and they take
  turns: a worker that has just accepted a connection stops accepting until that connection's
  first request has arrived (at most ``FIRST_REQUEST_GRACE_SECONDS``), so a burst of new
  connections is dealt out one by one. Each turn of the event loop answers every ready request
  before it accepts, so a worker that holds more connections has longer turns and accepts
  fewer. On the bench's 16 connections this gives 8+8 or 9+7.

gunicorn 27's ``ThreadWorker`` keeps everything else: keep-alive, the pending-data poller for
connections that have sent nothing yet, timeouts, graceful shutdown, HTTP/2 and TLS. What this
changes is its thread pool (never used), ``enqueue_req`` (answer at once), the accept limit
(``worker_connections``) and its event dispatch. gunicorn is pinned in requirements-hooks.txt;
tests/hooks/test_worker.py runs the real server.

The trade-off is the ``sync`` worker's. A client that stops halfway through sending a request
holds the worker until gunicorn's ``timeout`` restarts it. The hooks' callers are in-cluster
(Metacontroller, kubelet probes, Prometheus). A connection that has sent nothing yet never
holds the worker: it waits on the poller.
"""

from __future__ import annotations

import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from gunicorn.workers.gthread import _DEFER, TConn, ThreadWorker

# A client sends its first request right after connecting (well under a millisecond here); one
# that is slower than this no longer keeps its worker from accepting.
FIRST_REQUEST_GRACE_SECONDS = 0.05


class HookWorker(ThreadWorker):
    """gthread without the thread hand-offs, balancing connections by load (module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ready: deque[TConn] = deque()
        self._answering = False
        # The connection accepted last, while its first request has not arrived, and when.
        self._awaiting: tuple[TConn, float] | None = None

    @property
    def worker_connections(self) -> int:
        """gthread accepts while ``nr_conns`` is below this: the configured limit, or no more
        while the connection accepted last still owes its first request."""
        return self.nr_conns if self._grace_left() > 0 else self._connection_limit

    @worker_connections.setter
    def worker_connections(self, limit: int) -> None:
        self._connection_limit = limit

    def _grace_left(self) -> float:
        """Seconds this worker still leaves new connections to the others (0: none)."""
        if self._awaiting is None:
            return 0.0
        conn, accepted = self._awaiting
        left = accepted + FIRST_REQUEST_GRACE_SECONDS - time.monotonic()
        if conn.data_ready or left <= 0:
            self._awaiting = None
            return 0.0
        return left

    def get_thread_pool(self) -> ThreadPoolExecutor:
        """An executor that is only ever shut down: it never gets work, so it starts no
        thread."""
        return ThreadPoolExecutor(max_workers=1)

    def enqueue_req(self, conn: TConn) -> None:
        """Answer the connection's request now, on this thread (gthread submits it to the
        pool).

        gthread re-enqueues a connection from ``finish_request`` when a request was pipelined
        behind the one just answered; those are queued here and answered in turn, not by
        recursion, so any number of pipelined requests is safe.
        """
        self._ready.append(conn)
        if self._answering:
            return
        self._answering = True
        try:
            while self._ready:
                self._answer(self._ready.popleft())
        finally:
            self._answering = False

    def _answer(self, conn: TConn) -> None:
        outcome: Future[Any] = Future()
        # A connection just accepted may not have sent its request yet. It is never waited
        # for here: it goes to the poller (gthread's pending connections) and comes back
        # when its data arrives.
        if conn.initialized or conn.data_ready or conn.wait_for_data(0):
            conn.data_ready = True  # handle() would otherwise wait for data again
            outcome.set_result(self.handle(conn))
        else:
            outcome.set_result(_DEFER)
            self._awaiting = (conn, time.monotonic())
        self.finish_request(conn, outcome)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        """One turn of the event loop: answer every ready request, then accept."""
        grace = self._grace_left()
        accepts = []
        # While accepting is paused the listener is off the poller: wake up when the grace ends.
        for key, _ in self.poller.select(min(timeout, grace) if grace else timeout):
            if key.data == self.accept:
                accepts.append(key)
            else:
                key.data(key.fileobj)
        for key in accepts:
            key.data(key.fileobj)
