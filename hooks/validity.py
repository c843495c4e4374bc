"""What is wrong with an object of one of our kinds, as a user reads it: the field path and why.

The hooks validate their own parent before reading it, and every related object of our kinds
before handing it to a controller (``hooks.related``), so controller code may assume the shape
the schema promises. Only the user's part is checked (apiVersion, kind, metadata name,
namespace, labels and annotations, and spec), after KubeStash's defaulting, as the API server
and the webhooks would see it; ``status`` is ours and never makes an object invalid.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cache, lru_cache
from typing import Any

import jsonschema

from hooks.json_values import faithful_json
from schemas.defaults import with_defaults
from schemas.problems import Problem, describe, field_path
from schemas.registry import kind_for
from schemas.validation import validate

USER_METADATA = ("name", "namespace", "labels", "annotations")
# A condition message is read in `kubectl describe`; a broken spec can have hundreds of
# problems (every item of a long list), so the message names as many as fit in this many
# characters and counts the rest.
MESSAGE_LIMIT = 1000
_PROBLEM_LIMIT = 300


def user_part(
    obj: Mapping[str, Any], kind: str | None = None, api_version: str | None = None
) -> dict[str, Any]:
    """The fields of ``obj`` its author wrote; ``kind``/``api_version`` override the object's
    own (a related object is checked as the kind Metacontroller filed it under)."""
    metadata = obj.get("metadata")
    user_metadata: dict[str, Any] = {}
    # type() first: the abc check takes seven times as long, and decoded JSON is dicts.
    if type(metadata) is dict or isinstance(metadata, Mapping):
        # A loop, not a comprehension: this runs for every related object of every sync, and
        # a comprehension's own frame costs more than the copying.
        for key in USER_METADATA:
            if key in metadata:
                user_metadata[key] = metadata[key]
    part: dict[str, Any] = {
        "apiVersion": obj.get("apiVersion") if api_version is None else api_version,
        "kind": obj.get("kind") if kind is None else kind,
        "metadata": user_metadata,
    }
    if "spec" in obj:
        part["spec"] = obj["spec"]
    return part


def problems(
    obj: Mapping[str, Any], kind: str | None = None, api_version: str | None = None
) -> list[Problem]:
    """Every problem of the user's part of ``obj`` (defaults applied first); [] when valid."""
    return list(_problems_of(faithful_json(user_part(obj, kind, api_version))))


# Validation is a pure function of the user's part, which changes far less often than
# Metacontroller resyncs; memoising it on its JSON text keeps a sync cheap.
@lru_cache(maxsize=4096)
def _problems_of(user_json: bytes) -> tuple[Problem, ...]:
    return tuple(validate(with_defaults(json.loads(user_json))))


def loose_problems(obj: Mapping[str, Any], kind: str, api_version: str) -> list[Problem]:
    """Type problems of the fields the CRD schema of ``kind`` declares; unknown fields and
    webhook rules are not checked. For kinds others write (KubeDB's AppBindings, a catalog's
    Functions): a field this project does not know must not make such an object unusable."""
    return list(_loose_problems_of(faithful_json(user_part(obj, kind, api_version))))


@cache
def _loose_validator(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    served = kind_for(api_version, kind)
    if served is None:
        raise KeyError(f"{kind} ({api_version}) is not a served kind")
    return jsonschema.Draft202012Validator(served.object_schema)


@lru_cache(maxsize=4096)
def _loose_problems_of(user_json: bytes) -> tuple[Problem, ...]:
    obj = with_defaults(json.loads(user_json))
    validator = _loose_validator(str(obj["apiVersion"]), str(obj["kind"]))
    try:
        errors = sorted(validator.iter_errors(obj), key=lambda e: [str(p) for p in e.path])
    except Exception as error:  # values jsonschema cannot compare (as schemas.validation)
        return (Problem("(root)", f"cannot be checked: {error}"),)
    return tuple(_loose_problem(error) for error in errors)


_TYPE_WORDS = {"object": "a mapping", "array": "a list", "string": "a string"}


def _loose_problem(error: jsonschema.ValidationError) -> Problem:
    """A schema error in the words schemas.validation uses for the same mistakes."""
    parts = list(error.absolute_path)
    if error.validator == "type" and isinstance(error.validator_value, str):
        wanted = _TYPE_WORDS.get(error.validator_value, f"a {error.validator_value}")
        return Problem(field_path(parts), f"expected {wanted}, got {describe(error.instance)}")
    if error.validator == "required" and isinstance(error.instance, Mapping):
        missing = [name for name in error.validator_value if name not in error.instance]
        if missing:
            return Problem(field_path([*parts, missing[0]]), "required field is missing")
    return Problem(field_path(parts), _bounded(error.message, _PROBLEM_LIMIT))


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary(found: Sequence[Problem], limit: int = MESSAGE_LIMIT) -> str:
    """The problems as one message: ``path: why`` joined by ``; ``, at most ``limit`` characters.

    The first problem is always named (cut to fit); further ones while they fit, then a count
    of the rest.
    """
    texts = [_bounded(str(problem), _PROBLEM_LIMIT) for problem in found]
    shown: list[str] = []
    for index, text in enumerate(texts):
        left = len(texts) - index - 1
        room = limit - len("; ".join([*shown, text])) - (len(f"; and {left} more") if left else 0)
        if shown and room < 0:
            shown.append(f"and {len(texts) - index} more")
            break
        shown.append(text)
    return _bounded("; ".join(shown), limit)
