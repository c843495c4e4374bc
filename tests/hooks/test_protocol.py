"""The wire protocol: reference request bodies parse; responses hold only strict-mode keys."""

import json
from pathlib import Path
from types import MappingProxyType

import pytest

from hooks.protocol import (
    LAST_APPLIED_ANNOTATION,
    InvalidRequest,
    as_desired,
    composite_response,
    customize_response,
    decorator_response,
    parse_request,
    related_rule,
)

SAMPLES = Path("/work/shared/reference/metacontroller-samples")
if not SAMPLES.is_dir():
    SAMPLES = Path(__file__).parents[3] / "shared" / "reference" / "metacontroller-samples"


def sample(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text())


def test_v1_composite_sample_indexes_children_by_metadata():
    request = parse_request(sample("composite_v1_sync_request.json"))
    assert request.version == "v1"
    assert not request.is_decorator
    pod = request.children.get("Pod", "v1", "your-name")
    assert pod is not None and pod["status"]["phase"] == "Succeeded"
    assert request.children.get("Pod", "v1", "your-name", namespace="hello") is pod


def test_v2_composite_sample_reads_namespaced_and_cluster_scoped_related():
    request = parse_request(sample("composite_v2_sync_request.json"))
    assert request.version == "v2"
    names = [c["metadata"]["name"] for c in request.related.list("ConfigMap", "v1")]
    assert names == ["cm-1", "cm-2"]
    assert request.related.get("ConfigMap", "v1", "cm-2", namespace="source-ns") is not None
    assert request.related.get("Namespace", "v1", "target-ns") is not None
    assert request.children.get("ConfigMap", "v1", "my-config-list-list") is not None


def test_customize_sample_parses_without_children():
    request = parse_request(sample("customize_v2_request.json"))
    assert request.children.all() == []
    assert request.name == "my-config-list"


def test_decorator_finalize_sample_maps_object_and_attachments():
    request = parse_request(sample("decorator_v1_finalize_request.json"))
    assert request.is_decorator
    assert request.finalizing
    assert request.parent["kind"] == "StatefulSet"
    assert request.children.get("Service", "v1", "nginx-0") is not None


def test_v2_key_without_metadata_namespace_falls_back_to_key():
    body = sample("composite_v2_sync_request.json")
    body["related"]["ConfigMap.v1"]["source-ns/cm-1"]["metadata"].pop("namespace")
    request = parse_request(body)
    assert request.related.get("ConfigMap", "v1", "cm-1", namespace="source-ns") is not None


def test_related_object_with_malformed_metadata_is_addressed_by_its_key():
    body = sample("composite_v2_sync_request.json")
    body["related"]["ConfigMap.v1"]["source-ns/cm-1"]["metadata"] = "not an object"
    request = parse_request(body)
    assert request.related.get("ConfigMap", "v1", "cm-1", namespace="source-ns") is not None


def test_a_body_made_of_other_mappings_than_dicts_parses_as_the_same_body_of_dicts():
    body = sample("composite_v2_sync_request.json")
    as_proxies = MappingProxyType(
        {
            **body,
            "parent": MappingProxyType(body["parent"]),
            "related": MappingProxyType(
                {
                    key: MappingProxyType(
                        {name: MappingProxyType(obj) for name, obj in group.items()}
                    )
                    for key, group in body["related"].items()
                }
            ),
        }
    )
    request = parse_request(as_proxies)
    assert request.related.groups == parse_request(body).related.groups
    assert request.name == "my-config-list"


@pytest.mark.parametrize(
    "body",
    [[], {"parent": {}}, {"controller": {}}, {"controller": {}, "parent": {}, "children": []}],
)
def test_malformed_bodies_raise_invalid_request(body):
    with pytest.raises(InvalidRequest):
        parse_request(body)


def test_composite_response_sorts_children_and_keeps_only_allowed_keys():
    response = composite_response(
        {"phase": "Ready"},
        [
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b"}},
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}},
        ],
        resync_after_seconds=30.0,
    )
    assert set(response) <= {"status", "children", "resyncAfterSeconds", "finalized"}
    assert [c["metadata"]["name"] for c in response["children"]] == ["a", "b"]
    assert response["resyncAfterSeconds"] == 30 and isinstance(response["resyncAfterSeconds"], int)


def test_duplicate_children_are_a_bug_not_a_silent_overwrite():
    child = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}}
    with pytest.raises(ValueError, match="duplicate"):
        composite_response({}, [child, child])


def test_decorator_response_keys_and_null_status():
    response = decorator_response([], labels={"a": None}, finalized=True)
    assert set(response) <= {
        "labels",
        "annotations",
        "status",
        "attachments",
        "resyncAfterSeconds",
        "finalized",
    }
    assert response["status"] is None
    assert response["attachments"] == []


def test_customize_response_matches_reference_shape():
    response = customize_response(
        [
            related_rule("v1", "configmaps", namespace="source-ns", match_labels={"app": "demo"}),
            related_rule("v1", "namespaces", names=["target-ns"]),
        ]
    )
    assert response == sample("customize_v2_response.json")


def test_as_desired_returns_last_applied_configuration():
    request = parse_request(sample("composite_v1_sync_request.json"))
    pod = request.children.get("Pod", "v1", "your-name")
    desired = as_desired(pod)
    assert desired == json.loads(pod["metadata"]["annotations"][LAST_APPLIED_ANNOTATION])


def test_as_desired_of_adopted_child_drops_status_and_server_metadata():
    observed = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x", "namespace": "n", "uid": "u", "resourceVersion": "9"},
        "data": {"k": "v"},
        "status": {"s": 1},
    }
    assert as_desired(observed) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x", "namespace": "n"},
        "data": {"k": "v"},
    }
