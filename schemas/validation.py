"""validate(obj): every problem with an object of a served kind, as user-facing Problems.

Two layers: the kind's JSON Schema (all errors collected, unknown fields rejected as
``kubectl apply`` with strict field validation would) and the semantic rules of KubeStash's
webhooks (schemas.rules). Never raises on user data: any shape yields Problems, not exceptions.
"""

import copy
import difflib
from functools import cache
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from schemas.names import object_name_problem
from schemas.problems import ROOT_PATH, Problem, describe, field_path
from schemas.registry import KindSchema, kind_for, kinds, served_groups
from schemas.rules import semantic_problems

__all__ = ["Problem", "validate", "validate_document"]

_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
}
_METADATA_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "generateName": {"type": "string"},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def validate(obj: Any) -> list[Problem]:
    """Every problem with ``obj``, an object of one of our kinds; ``[]`` means valid.

    An unknown apiVersion/kind is itself a Problem. Never raises on user data.
    """
    if not isinstance(obj, dict):
        return [
            Problem(ROOT_PATH, f"expected a Kubernetes object (a mapping), got {describe(obj)}")
        ]
    served = kind_for(obj.get("apiVersion"), obj.get("kind"))
    if served is None:
        return [_unknown_kind_problem(obj)]
    problems = _schema_problems(obj, served) + semantic_problems(obj, served.kind)
    return sorted(set(problems), key=problems.index)


def validate_document(obj: Any) -> list[Problem]:
    """Like validate for our kinds; other kinds (Namespace, Secret, a KubeDB ZooKeeper …) are
    checked only loosely: apiVersion, kind and metadata.name are present."""
    if (
        isinstance(obj, dict)
        and kind_for(obj.get("apiVersion"), obj.get("kind")) is None
        and _group(obj.get("apiVersion")) not in served_groups()
    ):
        return _foreign_problems(obj)
    return validate(obj)


def _group(api_version: Any) -> str | None:
    if not isinstance(api_version, str):
        return None
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def _foreign_problems(obj: dict[str, Any]) -> list[Problem]:
    problems = []
    for key in ("apiVersion", "kind"):
        if not isinstance(obj.get(key), str) or not obj.get(key):
            problems.append(Problem(key, "required field is missing"))
    # kustomize's own files (Kustomization, Component) are not named objects.
    if _group(obj.get("apiVersion")) == "kustomize.config.k8s.io":
        return problems
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if not isinstance(name, str) or not name:
        if not (isinstance(metadata, dict) and metadata.get("generateName")):
            problems.append(Problem("metadata.name", "required field is missing"))
    elif (why := object_name_problem(name, str(obj.get("kind")))) is not None:
        problems.append(Problem("metadata.name", why))
    return problems


def _unknown_kind_problem(obj: dict[str, Any]) -> Problem:
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not api_version:
        return Problem("apiVersion", "required field is missing")
    if not isinstance(kind, str) or not kind:
        return Problem("kind", "required field is missing")
    same_version = sorted(k.kind for k in kinds().values() if k.api_version == api_version)
    if same_version:
        return Problem(
            "kind",
            f'"{kind}" is not a kind of {api_version} (known: {", ".join(same_version)})',
        )
    same_kind = sorted(k.api_version for k in kinds().values() if k.kind == kind)
    if same_kind:
        return Problem(
            "apiVersion", f'"{api_version}" is not served for {kind} (use {same_kind[0]})'
        )
    return Problem("kind", f"{kind} ({api_version}) is not a kind zkstash serves")


@cache
def _validator(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    served = kinds()[(api_version, kind)]
    schema = _strict(served.object_schema)
    schema["properties"]["metadata"] = _METADATA_SCHEMA
    return jsonschema.Draft202012Validator(schema)


def _strict(schema: Any) -> Any:
    """A copy of a CRD schema that rejects unknown fields (the CRD itself would prune them)."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {key: _strict(value) for key, value in schema.items()}
    if (
        strict.get("type") == "object"
        and "properties" in strict
        and "additionalProperties" not in strict
        and not strict.get("x-kubernetes-preserve-unknown-fields")
    ):
        strict["additionalProperties"] = False
    return strict


def _schema_problems(obj: dict[str, Any], served: KindSchema) -> list[Problem]:
    validator = _validator(served.api_version, served.kind)
    try:
        errors = list(validator.iter_errors(obj))
    except Exception as error:  # e.g. unhashable or exotic values jsonschema cannot compare
        return [Problem(ROOT_PATH, f"cannot be checked: {error}")]
    problems: list[Problem] = []
    for error in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]):
        problems += _problems_from_error(error, served.kind)
    return problems


def _problems_from_error(error: ValidationError, kind: str) -> list[Problem]:
    parts = list(error.absolute_path)
    instance, schema = error.instance, error.schema
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in instance]
        return [
            Problem(field_path([*parts, name]), "required field is missing") for name in missing
        ]
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = list(schema.get("properties", {}))
        return [
            Problem(field_path([*parts, name]), _unknown_field_message(name, known, kind))
            for name in instance
            if name not in known
        ]
    if error.validator == "type":
        wanted = error.validator_value
        words = " or ".join(
            _TYPE_WORDS.get(t, t) for t in ([wanted] if isinstance(wanted, str) else wanted)
        )
        return [Problem(field_path(parts), f"expected {words}, got {describe(instance)}")]
    if error.validator == "enum":
        choices = ", ".join(str(c) for c in error.validator_value)
        return [Problem(field_path(parts), f"{describe(instance)} is not one of: {choices}")]
    if error.validator in ("minimum", "maximum"):
        bound = "at least" if error.validator == "minimum" else "at most"
        return [
            Problem(
                field_path(parts),
                f"must be {bound} {error.validator_value}, got {describe(instance)}",
            )
        ]
    return [Problem(field_path(parts), error.message)]


def _unknown_field_message(name: Any, known: list[str], kind: str) -> str:
    close = difflib.get_close_matches(str(name), known, n=1) if isinstance(name, str) else []
    hint = f' (did you mean "{close[0]}"?)' if close else ""
    return f"unknown field{hint}; {kind} does not have it"


def strict_schema(api_version: str, kind: str) -> dict[str, Any]:
    """The validation schema of a served kind (the CRD schema plus unknown-field rejection)."""
    return copy.deepcopy(_validator(api_version, kind).schema)
