"""Problem: one thing wrong with a user's object, located by a user-facing field path."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

ROOT_PATH = "(root)"
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


@dataclass(frozen=True, order=True)
class Problem:
    """A field path such as ``spec.sessions[0].scheduler.schedule`` and a sentence about it."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def field_path(parts: Sequence[Any]) -> str:
    """Render path parts as the user reads them: ``spec.sessions[0]["odd.key"]``.

    Integers are list indexes; other keys become ``.key``, quoted in brackets when they hold
    characters (dots, slashes) that would make the path ambiguous.
    """
    rendered = ""
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            rendered += f"[{part}]"
        elif isinstance(part, str) and _PLAIN_KEY.fullmatch(part):
            rendered += f".{part}" if rendered else part
        else:
            rendered += f"[{str(part)!r}]".replace("'", '"')
    return rendered or ROOT_PATH


def describe(value: Any) -> str:
    """A short, user-facing description of a YAML value, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f'"{shown}"'
    return repr(value)
