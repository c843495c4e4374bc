"""The result object of every executor command (contracts §3): JSON, at most 4,096 bytes.

The same object is the last line on stdout and the content of `--result-file` (the pod's
termination message, which Kubernetes cuts at 4,096 bytes — a cut JSON would be unreadable, so
errors are shortened until the whole object fits). Every string is scrubbed of secret values.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

MAX_BYTES = 4096
VERSION = 1
_ELLIPSIS = "…"
TOP_ERROR_CHARS = 1000  # a sentence longer than this is cut before any detail is


def utc_timestamp(moment: dt.datetime) -> str:
    """RFC 3339 in UTC with whole seconds, as Kubernetes writes times (`2026-11-25T10:00:00Z`)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def one_sentence(text: str) -> str:
    """The first line of `text`, trimmed, ending without trailing punctuation noise."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else ""


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret value replaced by `***`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _scrub_tree(value: Any, secrets: Sequence[str]) -> Any:
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, Mapping):
        return {key: _scrub_tree(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub_tree(item, secrets) for item in value]
    return value


def encode(result: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON of `result`."""
    return json.dumps(result, ensure_ascii=False, separators=(",", ":")).encode()


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + _ELLIPSIS


def _shorten_errors(
    fitted: dict[str, Any], slots: list[tuple[dict[str, Any], str]], limit: int
) -> None:
    """Cut the longest of these error strings until the whole object fits (or all are empty)."""
    while len(encode(fitted)) > limit:
        slots = [(obj, key) for obj, key in slots if obj.get(key)]
        if not slots:
            return
        target, key = max(slots, key=lambda slot: len(slot[0][slot[1]]))
        current = target[key]
        excess = len(encode(fitted)) - limit
        shorter = max(len(current) - excess - 8, len(current) // 2)
        target[key] = "" if len(current) <= 1 else _cut(current, shorter)


def fit(result: Mapping[str, Any], limit: int = MAX_BYTES) -> dict[str, Any]:
    """A copy of `result` whose JSON fits `limit` bytes.

    A top-level error over 1,000 characters is cut to that; then repository errors are cut
    (longest first); then, for very many repositories, each keeps only name and phase and the
    list is shortened (`repositoriesOmitted` says by how many); the top-level error, the one
    sentence that matters most, is cut further only last.
    """
    fitted: dict[str, Any] = json.loads(json.dumps(result))
    if len(encode(fitted)) > limit and isinstance(fitted.get("error"), str):
        fitted["error"] = _cut(fitted["error"], TOP_ERROR_CHARS)
    repositories = [r for r in fitted.get("repositories") or [] if isinstance(r, dict)]
    _shorten_errors(fitted, [(repo, "error") for repo in repositories], limit)
    if len(encode(fitted)) > limit and repositories:
        essentials = [
            {"name": r.get("name", ""), "phase": r.get("phase", "")} for r in repositories
        ]
        fitted["repositories"] = essentials
        while len(encode(fitted)) > limit and fitted["repositories"]:
            fitted["repositories"] = fitted["repositories"][:-1]
            fitted["repositoriesOmitted"] = len(essentials) - len(fitted["repositories"])
    _shorten_errors(fitted, [(fitted, "error")], limit)
    return fitted


def finalize(result: Mapping[str, Any], secrets: Sequence[str]) -> dict[str, Any]:
    """Scrub secrets, then fit into the termination-message limit."""
    return fit(_scrub_tree(dict(result), secrets))


def emit(result: Mapping[str, Any], result_file: str | None) -> None:
    """Print the result as the last stdout line and write it to `result_file` if given."""
    data = encode(result)
    print(data.decode(), flush=True)
    if result_file:
        Path(result_file).write_bytes(data)
