"""The hooks server: Metacontroller calls ``POST /<hook>/<controller>`` with a JSON body.

A controller answers a user's mistake with a status (phase Invalid/NotReady) and keeps its
children; anything else that goes wrong here is a bug and is answered with HTTP 500, which
Metacontroller retries with backoff, never with a 200 that would delete children.

Hook calls are answered by ``HookCalls``, a WSGI layer in front of Flask: Flask's routing,
request context and signals cost 0.06-0.14 ms a call, 6-12 % of a sync's server CPU
(bench/RESULTS.md); Flask serves everything else (/healthz, /metrics, 404s).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from types import ModuleType
from typing import Any

from flask import Flask, Response
from werkzeug.http import parse_options_header
from werkzeug.wsgi import get_input_stream

from hooks import metrics
from hooks.controllers import CONTROLLERS
from hooks.protocol import InvalidRequest, SyncRequest, decode_json, encode_json, parse_request

HOOKS = ("sync", "customize", "finalize")
log = logging.getLogger("zkstash.hooks")

Handler = Callable[[SyncRequest], dict[str, Any]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# (HTTP status, content type, body)
Answer = tuple[int, str, bytes]
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"


def _error(message: str, status: int) -> Answer:
    return status, TEXT, (message + "\n").encode()


def _handler(module: ModuleType, hook: str) -> Handler | None:
    return getattr(module, hook, None)


def hook_route(environ: Mapping[str, Any]) -> tuple[str, str] | None:
    """(hook, controller) of a ``POST /<hook>/<controller>`` request, else None."""
    if environ.get("REQUEST_METHOD") != "POST":
        return None
    hook, _, controller = (environ.get("PATH_INFO") or "").partition("/")[2].partition("/")
    if not hook or not controller or "/" in controller:
        return None
    # WSGI paths are latin-1 decoded bytes; names are shown to people as UTF-8.
    return (
        hook.encode("latin-1").decode("utf-8", "replace"),
        controller.encode("latin-1").decode("utf-8", "replace"),
    )


def _is_json(environ: Mapping[str, Any]) -> bool:
    # The rule of werkzeug's Request.is_json: application/json or application/*+json.
    mimetype = parse_options_header(environ.get("CONTENT_TYPE", ""))[0].lower()
    return mimetype == JSON or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def read_json_body(environ: dict[str, Any]) -> Any:
    """The decoded JSON body of a WSGI request; None when it is not JSON."""
    if not _is_json(environ):
        return None
    data = get_input_stream(environ).read()
    try:
        return decode_json(data)
    except (ValueError, RecursionError):
        return None


def answer(handler: Handler, hook: str, controller: str, body: Any) -> Answer:
    """Run one hook on a decoded request body: 200 with the JSON response, 400 for a body
    that is not a hook request, 500 (logged) when the handler fails."""
    if body is None:
        return _error("request body is not JSON", 400)
    try:
        parsed = parse_request(body)
    except InvalidRequest as problem:
        return _error(f"bad {hook} request: {problem}", 400)
    except Exception:
        log.exception("%s request of %s could not be read", hook, controller)
        return _error(f"internal error reading the {controller} {hook} request", 500)
    try:
        return 200, JSON, encode_json(handler(parsed))
    except Exception:
        # A bug, not the user's input: 500 makes Metacontroller retry and keep every child.
        log.exception(
            "%s hook of %s failed for %s/%s", hook, controller, parsed.namespace, parsed.name
        )
        return _error(f"internal error in {controller} {hook} hook", 500)


def respond(start_response: Callable[..., Any], result: Answer) -> list[bytes]:
    """Send an Answer through WSGI."""
    status, content_type, body = result
    start_response(
        f"{status} {HTTPStatus(status).phrase}",
        [("Content-Type", content_type), ("Content-Length", str(len(body)))],
    )
    return [body]


class HookCalls:
    """WSGI layer answering ``POST /<hook>/<controller>``; every other request goes on to
    ``rest`` (the Flask app). Records the hook metrics."""

    def __init__(self, registry: Mapping[str, ModuleType], rest: WSGIApp) -> None:
        self.registry = registry
        self.rest = rest

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        route = hook_route(environ)
        if route is None:
            return self.rest(environ, start_response)
        started = time.perf_counter()
        hook, controller = route
        module = self.registry.get(controller)
        handler = _handler(module, hook) if module is not None and hook in HOOKS else None
        if handler is None:
            return respond(
                start_response, _error(f"no {hook} hook for controller {controller!r}", 404)
            )
        result = answer(handler, hook, controller, read_json_body(environ))
        status = result[0]
        calls, errors, latency = _metrics_of(controller, hook, status)
        calls.inc()
        if errors is not None:
            errors.inc()
        latency.observe(time.perf_counter() - started)
        return respond(start_response, result)


# prometheus_client's labels() takes a lock and builds its key on every call (1.4 us a hook
# call); a labelled metric is the same object for good, so it is looked up once. Only served
# controllers and hooks get here, so the number of entries is bounded.
@functools.cache
def _metrics_of(controller: str, hook: str, status: int) -> tuple[Any, Any, Any]:
    """The (calls, errors or None below 400, latency) metrics of one kind of hook answer."""
    return (
        metrics.SYNCS.labels(controller, hook, str(status)),
        metrics.ERRORS.labels(controller, hook) if status >= 400 else None,
        metrics.LATENCY.labels(controller, hook),
    )


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

    # Flask's documented way to put WSGI middleware in front of the app (test clients too).
    app.wsgi_app = HookCalls(registry, app.wsgi_app)  # type: ignore[method-assign]
    return app


app = create_app()
