"""The kustomize install: `kubectl kustomize manifests` (and the release overlay) builds, and every
object it yields is valid — built-in kinds against the official schemas (kubernetes-validate,
strict, oldest supported and newest bundled Kubernetes), our own kinds with schemas.validation.
"""

from typing import Any

import kubernetes_validate
import pytest
import yaml

from schemas.registry import kind_for
from schemas.validation import validate
from tests.ecosystem.images import REPO
from tests.ecosystem.kustomize import build

KUBERNETES_VERSIONS = ("1.29", kubernetes_validate.utils.latest_version())
METACONTROLLER_GROUP = "metacontroller.k8s.io"
BUILDS = {"base": REPO / "manifests", "release": REPO / "manifests" / "overlays" / "release"}


@pytest.fixture(scope="module", params=list(BUILDS))
def objects(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return build(BUILDS[request.param])


def ident(obj: dict[str, Any]) -> str:
    return f"{obj['kind']}/{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"


def release_tags() -> dict[str, str]:
    overlay = yaml.safe_load((BUILDS["release"] / "kustomization.yaml").read_text())
    return {image["name"]: image["newTag"] for image in overlay["images"]}


def images_in(objects: list[dict[str, Any]]) -> list[str]:
    """Every image an object runs: pod containers, and a Function's spec.image."""
    found = []
    for obj in objects:
        if obj["kind"] == "Function":
            found.append(obj["spec"]["image"])
        pod = obj.get("spec", {}).get("template", {}).get("spec", {})
        for container in pod.get("containers", []) + pod.get("initContainers", []):
            found.append(container["image"])
    return found


def test_every_builtin_object_validates_strictly(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        if kind_for(obj["apiVersion"], obj["kind"]) or obj["apiVersion"].startswith(
            METACONTROLLER_GROUP
        ):
            continue
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)


def test_every_zkstash_object_validates_against_its_schema(objects: list[dict[str, Any]]) -> None:
    ours = [o for o in objects if kind_for(o["apiVersion"], o["kind"])]
    assert ours, "the install ships the zookeeper-addon catalog"
    assert {ident(o): [str(p) for p in validate(o)] for o in ours} == {ident(o): [] for o in ours}


def test_install_holds_the_namespace_crds_and_addon(objects: list[dict[str, Any]]) -> None:
    kinds = {o["kind"] for o in objects}
    assert {"Namespace", "CustomResourceDefinition", "Addon", "Function"} <= kinds


def test_namespaced_objects_live_in_the_zkstash_namespace(objects: list[dict[str, Any]]) -> None:
    cluster_scoped = {
        "Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding",
        "CompositeController", "DecoratorController", "Addon", "Function",
    }  # fmt: skip
    for obj in objects:
        namespace = obj["metadata"].get("namespace")
        assert namespace == (None if obj["kind"] in cluster_scoped else "zkstash"), ident(obj)


def test_every_deployment_has_a_disruption_budget(objects: list[dict[str, Any]]) -> None:
    budgets = [o for o in objects if o["kind"] == "PodDisruptionBudget"]
    for deployment in (o for o in objects if o["kind"] == "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert any(
            b["metadata"]["namespace"] == deployment["metadata"]["namespace"]
            and b["spec"]["selector"]["matchLabels"].items() <= labels.items()
            for b in budgets
        ), ident(deployment)


def test_release_overlay_pins_every_image_to_its_tag() -> None:
    tags = release_tags()
    images = images_in(build(BUILDS["release"]))
    assert images
    for image in images:
        name, _, tag = image.rpartition(":")
        assert name in tags and tag == tags[name], image


def test_release_overlay_holds_the_same_objects_as_the_base() -> None:
    base = sorted(ident(o) for o in build(BUILDS["base"]))
    assert sorted(ident(o) for o in build(BUILDS["release"])) == base


def test_base_includes_every_manifests_folder_that_is_a_kustomization() -> None:
    base = yaml.safe_load((REPO / "manifests" / "base" / "kustomization.yaml").read_text())
    listed = {entry.removeprefix("../") for entry in base["resources"]}
    parts = [
        p.parent.name
        for p in (REPO / "manifests").glob("*/kustomization.yaml")
        if p.parent.name not in {"base", "argocd", "monitoring", "overlays"}
    ]
    assert sorted(set(parts) - listed) == []
