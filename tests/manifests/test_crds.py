"""The CRDs in manifests/crds are exactly the generator's output, structural, and carry
KubeStash's names, scopes and printer columns."""

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from schemas.crdgen import generated_files
from schemas.registry import kinds

CRD_DIR = Path(__file__).resolve().parents[2] / "manifests" / "crds"
GENERATED = generated_files()
CRDS = {
    yaml.safe_load(text)["spec"]["names"]["kind"]: yaml.safe_load(text)
    for name, text in GENERATED.items()
    if name != "kustomization.yaml"
}


def test_committed_crds_equal_the_generator_output():
    committed = {p.name: p.read_text(encoding="utf-8") for p in CRD_DIR.glob("*.yaml")}
    assert committed == GENERATED, "run `make crds` and commit manifests/crds"


def test_generator_output_is_deterministic():
    assert generated_files() == GENERATED


def test_one_crd_per_served_kind():
    assert set(CRDS) == {k.kind for k in kinds().values()}


def _structural_violations(schema: dict[str, Any], path: str) -> list[str]:
    """Kubernetes structural-schema rules: every node typed (unless it preserves unknown fields
    or is int-or-string), no $ref, properties and additionalProperties never together, defaults
    valid for their own schema."""
    found = []
    untyped_ok = schema.get("x-kubernetes-preserve-unknown-fields") or schema.get(
        "x-kubernetes-int-or-string"
    )
    if "type" not in schema and not untyped_ok:
        found.append(f"{path}: no type")
    for forbidden in ("$ref", "definitions", "$defs"):
        if forbidden in schema:
            found.append(f"{path}: {forbidden}")
    if "properties" in schema and "additionalProperties" in schema:
        found.append(f"{path}: properties with additionalProperties")
    if "default" in schema:
        try:
            jsonschema.validate(schema["default"], schema)
        except jsonschema.ValidationError as error:
            found.append(f"{path}: default {schema['default']!r} invalid: {error.message}")
    for name, sub in schema.get("properties", {}).items():
        found += _structural_violations(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        found += _structural_violations(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        found += _structural_violations(schema["additionalProperties"], f"{path}{{}}")
    return found


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_crd_schema_is_structural(kind):
    version = CRDS[kind]["spec"]["versions"][0]
    schema = version["schema"]["openAPIV3Schema"]
    assert _structural_violations(schema, kind) == []
    assert schema["properties"]["metadata"] == {"type": "object"}


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_crd_has_status_subresource_admitting_observed_generation_and_conditions(kind):
    version = CRDS[kind]["spec"]["versions"][0]
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]
    assert version["subresources"] == {"status": {}}
    assert status["properties"]["observedGeneration"]["type"] == "integer"
    condition = status["properties"]["conditions"]["items"]["properties"]
    assert set(condition) == {
        "type",
        "status",
        "reason",
        "message",
        "lastTransitionTime",
        "observedGeneration",
        "severity",
    }


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_crd_ends_with_an_age_column(kind):
    columns = CRDS[kind]["spec"]["versions"][0]["additionalPrinterColumns"]
    assert columns[-1] == {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


@pytest.mark.parametrize(
    ("kind", "columns"),
    [
        ("BackupStorage", ["Provider", "Default", "Deletion-Policy", "Total-Size", "Phase"]),
        ("Repository", ["Integrity", "Snapshot-Count", "Size", "Phase", "Last-Successful-Backup"]),
        ("Snapshot", ["Repository", "Session", "Snapshot-Time", "Deletion-Policy", "Phase"]),
        ("BackupConfiguration", ["Phase", "Paused"]),
        ("BackupSession", ["Invoker-Type", "Invoker-Name", "Phase", "Duration"]),
        ("RestoreSession", ["Repository", "Phase", "Duration"]),
    ],
)
def test_printer_columns_are_kubestash_ones(kind, columns):
    printed = CRDS[kind]["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [c["name"] for c in printed] == [*columns, "Age"]


@pytest.mark.parametrize(
    ("kind", "short_names"),
    [("Repository", ["repo"]), ("BackupConfiguration", ["bc"]), ("RestoreSession", ["restore"])],
)
def test_short_names_are_kubestash_ones(kind, short_names):
    assert CRDS[kind]["spec"]["names"]["shortNames"] == short_names


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_addon_and_function_are_cluster_scoped_everything_else_namespaced(kind):
    expected = "Cluster" if kind in ("Addon", "Function") else "Namespaced"
    assert CRDS[kind]["spec"]["scope"] == expected


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_crd_name_is_plural_dot_group(kind):
    spec = CRDS[kind]["spec"]
    assert CRDS[kind]["metadata"]["name"] == f"{spec['names']['plural']}.{spec['group']}"


def test_kustomization_lists_every_crd():
    kustomization = yaml.safe_load(GENERATED["kustomization.yaml"])
    assert sorted(kustomization["resources"]) == sorted(set(GENERATED) - {"kustomization.yaml"})


def test_make_crds_command_writes_the_files(tmp_path):
    from schemas.crdgen import main

    assert main([str(tmp_path / "out")]) == 0
    written = {p.name: p.read_text(encoding="utf-8") for p in (tmp_path / "out").iterdir()}
    assert written == GENERATED
