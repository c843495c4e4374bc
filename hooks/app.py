"""The hooks server: Metacontroller calls ``POST /<hook>/<controller>`` with a JSON body.

A controller answers a user's mistake with a status (phase Invalid/NotReady) and keeps its
children; anything else that goes wrong here is a bug and is answered with HTTP 500, which
Metacontroller retries with backoff, never with a 200 that would delete children.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from flask import Flask, Response, request

from hooks import metrics
from hooks.controllers import CONTROLLERS
from hooks.protocol import InvalidRequest, SyncRequest, parse_request

HOOKS = ("sync", "customize", "finalize")
log = logging.getLogger("zkstash.hooks")


def _json(body: Mapping[str, Any], status: int = 200) -> Response:
    # sort_keys: the same input must give byte-identical output (no update loops).
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return Response(text, status=status, mimetype="application/json")


def _error(message: str, status: int) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain")


def _handler(module: ModuleType, hook: str) -> Callable[[SyncRequest], dict[str, Any]] | None:
    return getattr(module, hook, None)


def create_app(controllers: Mapping[str, ModuleType] | None = None) -> Flask:
    """The Flask app serving every registered controller's hooks, /healthz and /metrics."""
    registry = dict(CONTROLLERS if controllers is None else controllers)
    app = Flask("zkstash-hooks")

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok\n", mimetype="text/plain")

    @app.get("/metrics")
    def metrics_page() -> Response:
        body, content_type = metrics.exposition()
        return Response(body, mimetype=content_type.split(";")[0])

    @app.post("/<hook>/<controller>")
    def call_hook(hook: str, controller: str) -> Response:
        started = time.perf_counter()
        module = registry.get(controller)
        handler = _handler(module, hook) if module is not None and hook in HOOKS else None
        if handler is None:
            return _error(f"no {hook} hook for controller {controller!r}", 404)
        response = _answer(handler, hook, controller)
        metrics.SYNCS.labels(controller, hook, str(response.status_code)).inc()
        if response.status_code >= 400:
            metrics.ERRORS.labels(controller, hook).inc()
        metrics.LATENCY.labels(controller, hook).observe(time.perf_counter() - started)
        return response

    return app


def _answer(
    handler: Callable[[SyncRequest], dict[str, Any]], hook: str, controller: str
) -> Response:
    body = request.get_json(silent=True)
    if body is None:
        return _error("request body is not JSON", 400)
    try:
        parsed = parse_request(body)
    except InvalidRequest as problem:
        return _error(f"bad {hook} request: {problem}", 400)
    try:
        return _json(handler(parsed))
    except Exception:
        # A bug, not the user's input: 500 makes Metacontroller retry and keep every child.
        log.exception(
            "%s hook of %s failed for %s/%s", hook, controller, parsed.namespace, parsed.name
        )
        return _error(f"internal error in {controller} {hook} hook", 500)


app = create_app()
