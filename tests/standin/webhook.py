"""Calling a Metacontroller hook over HTTP and decoding its answer the way Metacontroller does."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

DEFAULT_TIMEOUT_SECONDS = 10.0

# Top-level fields each response type may carry (strict decoding rejects any other).
COMPOSITE_RESPONSE_FIELDS = frozenset({"status", "children", "resyncAfterSeconds", "finalized"})
DECORATOR_RESPONSE_FIELDS = frozenset(
    {"labels", "annotations", "status", "attachments", "resyncAfterSeconds", "finalized"}
)
CUSTOMIZE_RESPONSE_FIELDS = frozenset({"relatedResources"})

_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class HookError(Exception):
    """A failed hook call: Metacontroller logs it as a sync error and retries with backoff."""


class RetryLater(HookError):
    """HTTP 429: requeue after `seconds` without counting it as a failure."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"hook asked to retry after {seconds}s")
        self.seconds = seconds


def parse_go_duration(text: str | None) -> float:
    """A Go duration ("30s", "1m30s", "500ms") in seconds; ≤ 0 or missing means the 10s default."""
    if not text:
        return DEFAULT_TIMEOUT_SECONDS
    parts = _GO_DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f'invalid duration "{text}"')
    seconds = sum(float(n) * _GO_UNITS[u] for n, u in parts)
    return seconds if seconds > 0 else DEFAULT_TIMEOUT_SECONDS


def hook_url(webhook: dict[str, Any], hooks_base_url: str) -> str:
    """Where to POST: the hook's `url` or `service`+`path`, sent to the local hooks server.

    A cluster would resolve the service name through DNS; here every hook Service is the one
    hooks server this stand-in started, so only the path (and query) are kept.
    """
    if webhook.get("url"):
        parts = urlsplit(webhook["url"])
        path = parts.path + (f"?{parts.query}" if parts.query else "")
    elif webhook.get("service"):
        path = webhook.get("path") or ""
    else:
        raise ValueError("webhook: needs url or service")
    return hooks_base_url.rstrip("/") + "/" + path.lstrip("/")


def call_hook(url: str, body: dict[str, Any], timeout: float) -> Any:
    """POST `body` as JSON and return the decoded JSON answer of a 200.

    Raises RetryLater on 429 and HookError on anything else that is not a 200 with JSON.
    """
    data = json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = response.read()
    except urllib.error.HTTPError as error:
        text = error.read().decode(errors="replace")[:2000]
        if error.code == 429:
            raise RetryLater(_retry_after(error.headers.get("Retry-After"))) from None
        raise HookError(f"unsupported status code: {error.code} body: {text}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise HookError(f"http error: Post {url!r}: {error}") from None
    try:
        return json.loads(payload)
    except json.JSONDecodeError as error:
        raise HookError(f"can't unmarshal webhookResponse: {error}") from None


def _retry_after(header: str | None) -> float:
    try:
        return max(0.0, float(header or 0))
    except ValueError:
        return 0.0


def decode_response(
    response: Any, allowed: frozenset[str], version: str, strict: bool, hook: str
) -> dict[str, Any]:
    """Check a hook response's top level like Metacontroller's decoder (strict mode for v2)."""
    prefix = f"can't unmarshal webhookResponse (version: {version}, type: {hook})"
    if not isinstance(response, dict):
        raise HookError(f"{prefix}: not a JSON object")
    unknown = sorted(set(response) - allowed)
    if strict and unknown:
        raise HookError(f"strict validation failed: unknown field(s) {unknown} in {hook} response")
    decoded = {k: v for k, v in response.items() if k in allowed}
    for key in ("children", "attachments"):
        items = decoded.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            raise HookError(f"{prefix}: {key} must be a list")
        for index, child in enumerate(items):
            if not isinstance(child, dict) or not child.get("kind") or not child.get("apiVersion"):
                raise HookError(f"{prefix}: {key}[{index}]: Object 'Kind' is missing")
            if not (child.get("metadata") or {}).get("name"):
                raise HookError(f"{prefix}: {key}[{index}]: metadata.name is missing")
    resync = decoded.get("resyncAfterSeconds")
    if resync is not None and (isinstance(resync, bool) or not isinstance(resync, int | float)):
        raise HookError(f"{prefix}: resyncAfterSeconds must be a number")
    for key in ("labels", "annotations"):
        values = decoded.get(key)
        if values is None:
            continue
        if not isinstance(values, dict) or any(
            v is not None and not isinstance(v, str) for v in values.values()
        ):
            raise HookError(f"{prefix}: {key} must map strings to strings or null")
    if "finalized" in decoded and not isinstance(decoded["finalized"], bool):
        raise HookError(f"{prefix}: finalized must be a boolean")
    return decoded
