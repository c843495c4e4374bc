"""The served kinds: their JSON Schemas (from the YAML files beside this module) and CRD facts.

Each ``<kind>.yaml`` holds one kind's CRD facts (group/version, scope, names, printer columns)
and the schemas of its ``spec`` and ``status``; ``common.yaml`` holds the shared types. Every
``{$ref: "#/definitions/X"}`` is inlined here, because CRD schemas must be structural and may not
contain references; the definitions are not recursive, so inlining terminates.
"""

import copy
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

SCHEMA_DIR = Path(__file__).parent
COMMON_FILE = "common.yaml"
REF_PREFIX = "#/definitions/"

# One file per kind, in the order the CRDs are listed.
KIND_FILES = (
    "backupstorage.yaml",
    "repository.yaml",
    "snapshot.yaml",
    "retentionpolicy.yaml",
    "backupconfiguration.yaml",
    "backupsession.yaml",
    "restoresession.yaml",
    "backupblueprint.yaml",
    "addon.yaml",
    "function.yaml",
    "appbinding.yaml",
)


@dataclass(frozen=True)
class KindSchema:
    """One served kind: its API identity, CRD facts and the schema of a whole object."""

    api_version: str
    kind: str
    scope: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    categories: tuple[str, ...]
    printer_columns: tuple[dict[str, str], ...]
    object_schema: dict[str, Any] = field(repr=False)

    @property
    def group(self) -> str:
        return self.api_version.split("/", 1)[0]

    @property
    def version(self) -> str:
        return self.api_version.split("/", 1)[1]

    @property
    def namespaced(self) -> bool:
        return self.scope == "Namespaced"


def inline_refs(node: Any, definitions: dict[str, Any]) -> Any:
    """Return a copy of ``node`` with every ``$ref`` replaced by its (inlined) definition."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if ref is not None:
            if not ref.startswith(REF_PREFIX) or ref[len(REF_PREFIX) :] not in definitions:
                raise KeyError(f"unknown schema reference {ref!r}")
            target = inline_refs(definitions[ref[len(REF_PREFIX) :]], definitions)
            siblings = {k: inline_refs(v, definitions) for k, v in node.items() if k != "$ref"}
            return {**target, **siblings}
        return {k: inline_refs(v, definitions) for k, v in node.items()}
    if isinstance(node, list):
        return [inline_refs(item, definitions) for item in node]
    return node


def _object_schema(spec: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    """The schema of a whole object: apiVersion, kind, metadata, spec and status."""
    status = copy.deepcopy(status)
    # Every status admits what every hook writes: observedGeneration and conditions.
    status.setdefault("properties", {})
    status["properties"].setdefault("observedGeneration", {"type": "integer", "format": "int64"})
    status["properties"].setdefault("conditions", {"$ref": REF_PREFIX + "Conditions"})
    return {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }


def _load_yaml(name: str) -> dict[str, Any]:
    with open(SCHEMA_DIR / name, encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def _load_kind(name: str, common: dict[str, Any]) -> KindSchema:
    doc = _load_yaml(name)
    definitions = {**common, **doc.get("definitions", {})}
    names = doc["names"]
    return KindSchema(
        api_version=doc["apiVersion"],
        kind=doc["kind"],
        scope=doc["scope"],
        plural=names["plural"],
        singular=names["singular"],
        short_names=tuple(names.get("shortNames", ())),
        categories=tuple(names.get("categories", ())),
        printer_columns=tuple(doc.get("printerColumns") or ()),
        object_schema=inline_refs(_object_schema(doc["spec"], doc["status"]), definitions),
    )


@cache
def kinds() -> dict[tuple[str, str], KindSchema]:
    """Every served kind keyed by ``(apiVersion, kind)``, in CRD order."""
    common = _load_yaml(COMMON_FILE)["definitions"]
    loaded = (_load_kind(name, common) for name in KIND_FILES)
    return {(k.api_version, k.kind): k for k in loaded}


def kind_for(api_version: Any, kind: Any) -> KindSchema | None:
    """The served kind for an object's apiVersion and kind, or None when we do not serve it."""
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return None
    return kinds().get((api_version, kind))


def served_groups() -> frozenset[str]:
    """The API groups of the served kinds."""
    return frozenset(k.group for k in kinds().values())
