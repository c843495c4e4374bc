"""Which related objects a hook may read: those of our kinds must match their schema.

A related object is someone's input too (a BackupStorage, a BackupConfiguration, a Function
of the catalog, an AppBinding): a spec of the wrong shape there is a user's mistake, not a
reason to crash. ``hooks.protocol`` asks ``problem`` about every related object when it parses
a request; an object with a problem is left out of the index, as if it did not exist, and the
problem is kept so a controller can say exactly what made the object unusable. Objects of
kinds we do not serve (Namespace, Secret, Pod, Job) are read only where their shape is fixed
by the API server, and are admitted as they are; kinds others write are checked loosely.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import orjson

from hooks import validity
from schemas.problems import Problem
from schemas.registry import kind_for

# Kinds others write: KubeDB writes AppBindings, and the Addon catalog may be KubeStash's own.
# Only the types of the fields their CRD schema declares are checked, so a field this project
# does not know (a newer release of theirs) never makes one unusable. Our own kinds are checked
# fully: their CRDs prune unknown fields, so a valid object never has one.
FOREIGN_KINDS = frozenset(
    {
        ("appcatalog.appscode.com/v1alpha1", "AppBinding"),
        ("addons.kubestash.com/v1alpha1", "Addon"),
        ("addons.kubestash.com/v1alpha1", "Function"),
    }
)


def where(kind: str, namespace: str, name: str) -> str:
    """How a message names an object: ``Kind namespace/name`` (``Kind name`` cluster-scoped)."""
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def problem(
    kind: str, api_version: str, obj: Mapping[str, Any], address: tuple[str, str]
) -> str | None:
    """Why the related ``obj`` (filed under ``kind``/``api_version`` at ``address``, its
    (namespace, name)) cannot be read, naming it and the field; None when it can."""
    if kind_for(api_version, kind) is None:
        return None
    try:
        text = orjson.dumps(obj)
    except orjson.JSONEncodeError:  # not plain JSON values: checked as they are
        found: Sequence[Problem] = _problems(kind, api_version, obj)
    else:
        # orjson writes NaN and the infinities as null too: text with null is not a key.
        found = (
            _problems_of_text(kind, api_version, text)
            if text.rfind(b"null") < 0
            else _problems(kind, api_version, obj)
        )
    if not found:
        return None
    return f"{where(kind, *address)}: {validity.summary(found)}"


def _problems(kind: str, api_version: str, obj: Mapping[str, Any]) -> list[Problem]:
    if (api_version, kind) in FOREIGN_KINDS:
        return validity.loose_problems(obj, kind, api_version)
    return validity.problems(obj, kind, api_version)


# Metacontroller sends the same related objects, unchanged, on every sync: their problems are
# memoised on the object's own text, which takes a third of the time of picking out its user
# part and writing that (validity's memo, used on a miss here). The text is orjson's, keys in
# the object's order, without null, so it reads back as the object exactly.
@lru_cache(maxsize=1024)
def _problems_of_text(kind: str, api_version: str, text: bytes) -> tuple[Problem, ...]:
    return tuple(_problems(kind, api_version, orjson.loads(text)))
