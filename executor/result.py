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


def _error_slots(result: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """Every (object, "error") pair in the result, top level first."""
    slots = [(result, "error")] if result.get("error") else []
    for repo in result.get("repositories") or []:
        if isinstance(repo, dict) and repo.get("error"):
            slots.append((repo, "error"))
    return slots


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + _ELLIPSIS


def fit(result: Mapping[str, Any], limit: int = MAX_BYTES) -> dict[str, Any]:
    """A copy of `result` whose JSON fits `limit` bytes: errors are cut, longest first."""
    fitted: dict[str, Any] = json.loads(json.dumps(result))
    while len(encode(fitted)) > limit:
        slots = _error_slots(fitted)
        if not slots:
            break
        target, key = max(slots, key=lambda slot: len(slot[0][key]))
        current = target[key]
        excess = len(encode(fitted)) - limit
        target[key] = _cut(current, max(len(current) - excess - 8, len(current) // 2, 0))
        if len(current) <= 1:
            target[key] = ""
    if len(encode(fitted)) > limit and fitted.get("repositories"):
        # Still too long (very many repositories): keep each repository's essentials, then as
        # many repositories as fit, and say how many were left out.
        essentials = [
            {"name": repo.get("name", ""), "phase": repo.get("phase", "")}
            for repo in fitted["repositories"]
        ]
        fitted["repositories"] = essentials
        while len(encode(fitted)) > limit and fitted["repositories"]:
            fitted["repositories"] = fitted["repositories"][:-1]
            fitted["repositoriesOmitted"] = len(essentials) - len(fitted["repositories"])
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
