"""JSON values as data: their canonical text (hashes), text that reads back as them (memo
keys, cached values) and independent copies.

Child names are hashed from canonical text (``hooks.names``), so that text must stay the
exact bytes of ``json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)``
that named every existing Job; a changed byte would rename, and so recreate, every child on
upgrade. orjson writes the same bytes ten times faster for most values, but not for all: it
writes text as UTF-8 where the standard library escapes it (``\\u00e9``, and DEL as
``\\u007f``), some floats differently (``0.00001`` for ``1e-05``), NaN and infinities as
``null``, and objects such as enums and datetimes in its own way. ``canonical_json`` uses
orjson's text only where it is provably the same, and the standard library everywhere else.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

# The exact leaf types whose orjson text is the standard library's as long as it is ASCII
# without DEL: text, integers (orjson refuses those beyond 64 bits), booleans and null.
_SAME_TEXT_LEAVES = frozenset({str, int, bool, type(None)})


def _only_same_text_leaves(value: Any) -> bool:
    """Whether ``value`` is made of dicts and lists (exact types) over ``_SAME_TEXT_LEAVES``.

    Iterative, because it runs on every canonical text: a loop over a stack takes about half
    the time of recursion here. Only called on values orjson has written, so the nesting is
    finite (orjson refuses cycles and depths beyond 255).
    """
    kind = type(value)
    if kind is not dict and kind is not list:
        return kind in _SAME_TEXT_LEAVES
    stack = [value]
    pop, push = stack.pop, stack.append
    while stack:
        container = pop()
        for item in container.values() if type(container) is dict else container:
            kind = type(item)
            if kind is str:
                continue
            if kind is dict or kind is list:
                push(item)
            elif kind not in _SAME_TEXT_LEAVES:
                return False
    return True


def canonical_json(value: Any) -> str:
    """Compact JSON, keys sorted, ASCII only: exactly what
    ``json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)`` returns.

    orjson writes it when the value holds only dicts, lists, text, integers, booleans and
    null and its text is ASCII without DEL (non-string keys and integers beyond 64 bits make
    orjson refuse); anything else (floats, non-ASCII text, other objects) is written by the
    standard library.
    """
    try:
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        pass
    else:
        if text.isascii() and b"\x7f" not in text and _only_same_text_leaves(value):
            return text.decode("ascii")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def faithful_json(value: Any) -> bytes:
    """JSON text that ``json.loads`` (or ``decode_json``) reads back as a value equal to the
    JSON value ``value`` (keys sorted); equal values give equal text. A key to memoise a pure
    function of ``value`` on, or a way to keep a value in a cache where no one can change it.

    Unlike a name's hash this text only lives in this process, so it need not be the canonical
    text: orjson's sorted text is used as it is (UTF-8, its own float notation) unless it holds
    ``null``, which orjson also writes for NaN and the infinities; then, and for values orjson
    refuses, it is the canonical text. This skips the type walk ``canonical_json`` needs, most
    of its cost.
    """
    try:
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        pass
    else:
        # rfind, not ``in``: CPython 3.11 searches for this needle backwards in about half the
        # time on JSON text (a sync checks some 13 KB of it).
        if text.rfind(b"null") < 0:
            return text
    return canonical_json(value).encode()


def json_copy(value: Any) -> Any:
    """A deep copy of a JSON value: every dict, list and tuple is new, leaves are shared.

    Written out rather than ``copy.deepcopy``, which takes three times as long on these values
    (it memoises every object and dispatches on type through a table); the leaves of decoded
    JSON (text, numbers, booleans, null) are immutable, so sharing them is safe.
    """
    kind = type(value)
    if kind is dict:
        return {key: json_copy(item) for key, item in value.items()}
    if kind is list:
        return [json_copy(item) for item in value]
    if kind is tuple:
        return tuple(json_copy(item) for item in value)
    return value
