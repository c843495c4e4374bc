"""The Metacontroller loop follows the protocol reference, checked against a scripted hook."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.standin.kubectl import Kubectl
from tests.standin.metacontroller import ProtocolViolation
from tests.standin.standin import Standin
from tests.standin.tests.conftest import composite, hello
from tests.standin.tests.hook_double import HookDouble

SAMPLES = Path("/work/shared/reference/metacontroller-samples")
SYNC = "/sync/hello"


def configmap(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def test_v2_sync_request_has_every_declared_type_keyed_by_namespace_and_name(
    standin: Standin, kubectl: Kubectl, hook_double: HookDouble
) -> None:
    hook_double.answer = lambda path, body: (200, {"children": [configmap("cm", {"a": "1"})]})
    standin.metacontroller.load(composite("hello"))
    kubectl.apply(hello())
    standin.settle()
    first, *rest = hook_double.bodies(SYNC)
    assert first["children"] == {"ConfigMap.v1": {}}
    assert first["related"] == {} and first["finalizing"] is False
    assert set(first) == {"controller", "parent", "children", "related", "finalizing"}
    assert list(rest[-1]["children"]["ConfigMap.v1"]) == ["hello/cm"]


def test_created_child_gets_parent_namespace_owner_reference_and_selector_label(
    standin: Standin, kubectl: Kubectl, hook_double: HookDouble
) -> None:
    hook_double.answer = lambda path, body: (200, {"children": [configmap("cm", {"a": "1"})]})
    standin.metacontroller.load(composite("hello"))
    kubectl.apply(hello())
    standin.settle()
    parent = kubectl.object("HelloWorld", "hello", "your-name")
    child = kubectl.object("ConfigMap", "hello", "cm")
    assert child["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "example.com/v1",
            "kind": "HelloWorld",
            "name": "your-name",
            "uid": parent["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert child["metadata"]["labels"] == {"controller-uid": parent["metadata"]["uid"]}
    assert "metacontroller.k8s.io/last-applied-configuration" in child["metadata"]["annotations"]


def test_status_replaced_with_observed_generation(
    standin: Standin, kubectl: Kubectl, hook_double: HookDouble
) -> None:
    hook_double.answer = lambda path, body: (200, {"status": {"phase": "Ready", "count": 2}})
    standin.metacontroller.load(composite("hello"))
    kubectl.apply(hello())
    standin.settle()
    status = kubectl.object("HelloWorld", "hello", "your-name")["status"]
    assert status == {"phase": "Ready", "count": 2, "observedGeneration": 1}


def test_child_left_out_of_the_response_is_deleted(
    standin: Standin, kubectl: Kubectl, hook_double: HookDouble
) -> None:
    wanted = {"children": [configmap("cm", {"a": "1"})]}
    hook_double.answer = lambda path, body: (200, wanted)
    standin.metacontroller.load(composite("hello"))
    kubectl.apply(hello())
    standin.settle()
    wanted["children"] = []
    kubectl.apply(hello(who="Another"))
    standin.settle()
    assert kubectl.object("ConfigMap", "hello", "cm") is None


def test_in_place_update_changes_the_child_and_keeps_foreign_fields(
    standin: Standin, kubectl: Kubectl, hook_double: HookDouble
) -> None:
    hook_double.answer = lambda path, body: (
        200,
        {"children": [configmap("cm", {"who": body["parent"]["spec"]["who"]})]},
    )
    standin.metacontroller.load(composite("hello"))
    kubectl.apply(hello())
    standin.settle()
    child = kubectl.object("ConfigMap", "hello", "cm")
    child["metadata"]["labels"]["added-by-someone"] = "yes"
    standin.store.update(child)
    kubectl.apply(hello(who="Another"))
    standin.settle()
    child = kubectl.object("ConfigMap", "hello", "cm")
    assert child["data"] == {"who": "Another"}
    assert child["metadata"]["labels"]["added-by-someone"] == "yes"


def test_unknown_top_level_field_in_v2_response_is_a_sync_error(
    standin: Standin, kubectl: Kubectl, hook_double: HookDouble
) -> None:
    hook_double.answer = lambda path, body: (200, {"status": {}, "childern": []})
    standin.metacontroller.load(composite("hello"))
    kubectl.apply(hello())
    standin.step()
    assert any("strict validation failed" in e for e in standin.metacontroller.sync_errors)


def test_failed_hook_is_retried_with_backoff_until_it_succeeds(
    standin: Standin, kubectl: Kubectl, hook_double: HookDouble
) -> None:
    calls = []

    def flaky(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        calls.append(path)
        return (500, {"error": "boom"}) if len(calls) < 3 else (200, {"status": {"phase": "Ready"}})

    hook_double.answer = flaky
    standin.metacontroller.load(composite("hello"))
    kubectl.apply(hello())
    kubectl.wait_for("HelloWorld", "hello", "your-name", "Ready", timeout=10)
    assert sum("unsupported status code: 500" in e for e in standin.metacontroller.sync_errors) == 2


def test_status_field_the_crd_would_prune_is_a_protocol_violation(
    standin: Standin, kubectl: Kubectl, hook_double: HookDouble
) -> None:
    hook_double.answer = lambda path, body: (200, {"status": {"phase": "Ready", "extra": "x"}})
    standin.metacontroller.load(composite("hello"))
    with pytest.raises(ProtocolViolation, match=r"would prune status\.extra"):
        kubectl.apply(hello())
        standin.settle()


def test_integer_sent_as_float_is_a_protocol_violation(
    standin: Standin, kubectl: Kubectl, hook_double: HookDouble
) -> None:
    hook_double.answer = lambda path, body: (200, {"status": {"count": 2.0}})
    standin.metacontroller.load(composite("hello"))
    with pytest.raises(ProtocolViolation, match=r"status\.count"):
        kubectl.apply(hello())
        standin.settle()


def test_hook_answering_identical_requests_differently_is_a_protocol_violation(
    standin: Standin, kubectl: Kubectl, hook_double: HookDouble
) -> None:
    counter = iter(range(1000))
    hook_double.answer = lambda path, body: (
        200,
        {"children": [], "resyncAfterSeconds": next(counter) + 1},
    )
    standin.metacontroller.load(composite("hello"))
    with pytest.raises(ProtocolViolation, match="not a pure function"):
        kubectl.apply(hello())
        for _ in range(5):
            standin.settle()
            standin.advance(3600)


def test_finalize_hook_adds_finalizer_and_removes_it_when_finalized(
    standin: Standin, kubectl: Kubectl, hook_double: HookDouble
) -> None:
    hook_double.answer = lambda path, body: (
        200,
        {"children": [], "finalized": True} if body["finalizing"] else {"children": []},
    )
    finalize = {"finalize": {"version": "v2", "webhook": {"url": "http://h/finalize/hello"}}}
    standin.metacontroller.load(composite("hello", hooks=finalize))
    kubectl.apply(hello())
    standin.settle()
    parent = kubectl.object("HelloWorld", "hello", "your-name")
    assert parent["metadata"]["finalizers"] == ["metacontroller.io/compositecontroller-hello"]
    kubectl.delete("HelloWorld", "hello", "your-name")
    kubectl.wait_gone("HelloWorld", "hello", "your-name", timeout=10)
    assert hook_double.bodies("/finalize/hello")[0]["finalizing"] is True


def test_customize_related_objects_are_keyed_and_asked_once_per_generation(
    standin: Standin, kubectl: Kubectl, hook_double: HookDouble
) -> None:
    customize = json.loads((SAMPLES / "customize_v2_response.json").read_text())

    def answer(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        return (200, customize) if path.startswith("/customize") else (200, {"children": []})

    hook_double.answer = answer
    for ns in ("source-ns", "target-ns"):
        kubectl.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    cm = configmap("cm-1", {"k": "v"})
    cm["metadata"].update(namespace="source-ns", labels={"app": "demo"})
    kubectl.apply(cm)
    hooks = {"customize": {"version": "v2", "webhook": {"url": "http://h/customize/hello"}}}
    standin.metacontroller.load(composite("hello", hooks=hooks))
    kubectl.apply(hello(name="my-config-list", namespace="target-ns"))
    standin.settle()
    related = hook_double.bodies(SYNC)[-1]["related"]
    assert list(related["ConfigMap.v1"]) == ["source-ns/cm-1"]
    assert list(related["Namespace.v1"]) == ["target-ns"]
    assert len(hook_double.bodies("/customize/hello")) == 1


def test_related_object_change_triggers_a_sync(
    standin: Standin, kubectl: Kubectl, hook_double: HookDouble
) -> None:
    rules = {"relatedResources": [{"apiVersion": "v1", "resource": "secrets", "names": ["creds"]}]}
    hook_double.answer = lambda path, body: (
        (200, rules) if path.startswith("/customize") else (200, {"children": []})
    )
    hooks = {"customize": {"version": "v2", "webhook": {"url": "http://h/customize/hello"}}}
    standin.metacontroller.load(composite("hello", hooks=hooks))
    kubectl.apply(hello())
    standin.settle()
    before = len(hook_double.bodies(SYNC))
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds", "namespace": "hello"},
    }
    kubectl.apply(secret)
    standin.settle()
    assert list(hook_double.bodies(SYNC)[-1]["related"]["Secret.v1"]) == ["hello/creds"]
    assert len(hook_double.bodies(SYNC)) > before


def test_resync_after_seconds_honoured_on_the_controllable_clock(
    standin: Standin, kubectl: Kubectl, hook_double: HookDouble
) -> None:
    hook_double.answer = lambda path, body: (200, {"children": [], "resyncAfterSeconds": 300})
    standin.metacontroller.load(composite("hello"))
    kubectl.apply(hello())
    standin.settle()
    before = len(hook_double.bodies(SYNC))
    standin.advance(301)
    standin.settle()
    assert len(hook_double.bodies(SYNC)) == before + 1


def test_decorator_merges_labels_deletes_nulls_and_marks_attachments(
    standin: Standin, kubectl: Kubectl, hook_double: HookDouble
) -> None:
    decorator = {
        "apiVersion": "metacontroller.k8s.io/v1alpha1",
        "kind": "DecoratorController",
        "metadata": {"name": "deco"},
        "spec": {
            "resources": [
                {
                    "apiVersion": "example.com/v1",
                    "resource": "helloworlds",
                    "annotationSelector": {
                        "matchExpressions": [{"key": "decorate", "operator": "Exists"}]
                    },
                }
            ],
            "attachments": [{"apiVersion": "v1", "resource": "configmaps"}],
            "hooks": {"sync": {"version": "v2", "webhook": {"url": "http://h/sync/deco"}}},
        },
    }
    hook_double.answer = lambda path, body: (
        200,
        {"labels": {"added": "yes", "gone": None}, "attachments": [configmap("att", {"a": "b"})]},
    )
    standin.metacontroller.load(decorator)
    parent = hello()
    parent["metadata"].update(annotations={"decorate": "1"}, labels={"gone": "x", "kept": "y"})
    kubectl.apply(parent)
    standin.settle()
    labels = kubectl.object("HelloWorld", "hello", "your-name")["metadata"]["labels"]
    assert labels == {"added": "yes", "kept": "y"}
    attachment = kubectl.object("ConfigMap", "hello", "att")
    assert (
        attachment["metadata"]["annotations"]["metacontroller.k8s.io/decorator-controller"]
        == "deco"
    )
    assert set(hook_double.bodies("/sync/deco")[0]) == {
        "controller",
        "object",
        "attachments",
        "related",
        "finalizing",
    }


def test_reference_sample_response_decodes_and_applies(
    standin: Standin, kubectl: Kubectl, hook_double: HookDouble
) -> None:
    sample = json.loads((SAMPLES / "composite_v2_sync_response.json").read_text())
    sample["children"][0]["metadata"]["namespace"] = "hello"
    sample["status"] = {"count": sample["status"]["count"]}
    hook_double.answer = lambda path, body: (200, sample)
    standin.metacontroller.load(composite("hello"))
    kubectl.apply(hello())
    standin.settle()
    assert kubectl.object("ConfigMap", "hello", "my-config-list-list")["data"] == {
        "configmaps": "source-ns/cm-1\nsource-ns/cm-2"
    }


def _secrets_in(ns: str, name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}}


def _related_secrets_without_namespace(
    standin: Standin, kubectl: Kubectl, hook_double: HookDouble, version: str
) -> list[str]:
    rules = {"relatedResources": [{"apiVersion": "v1", "resource": "secrets"}]}
    hook_double.answer = lambda path, body: (
        (200, rules) if path.startswith("/customize") else (200, {"children": []})
    )
    hooks = {
        "sync": {"version": version, "webhook": {"url": "http://h/sync/hello"}},
        "customize": {"version": version, "webhook": {"url": "http://h/customize/hello"}},
    }
    standin.metacontroller.load(composite("hello", hooks=hooks))
    kubectl.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "elsewhere"}})
    kubectl.apply([_secrets_in("elsewhere", "far"), hello(), _secrets_in("hello", "near")])
    standin.settle()
    return sorted(hook_double.bodies("/sync/hello")[-1]["related"]["Secret.v1"])


def test_v2_related_rule_without_namespace_sees_every_namespace(
    standin: Standin, kubectl: Kubectl, hook_double: HookDouble
) -> None:
    assert _related_secrets_without_namespace(standin, kubectl, hook_double, "v2") == [
        "elsewhere/far",
        "hello/near",
    ]


def test_v1_related_rule_keeps_a_namespaced_parent_to_its_own_namespace(
    standin: Standin, kubectl: Kubectl, hook_double: HookDouble
) -> None:
    assert _related_secrets_without_namespace(standin, kubectl, hook_double, "v1") == ["near"]


def test_held_controller_syncs_nothing_until_released_then_catches_up(
    standin: Standin, kubectl: Kubectl, hook_double: HookDouble
) -> None:
    hook_double.answer = lambda path, body: (200, {"children": [configmap("cm", {"a": "1"})]})
    standin.metacontroller.load(composite("hello"))
    standin.metacontroller.hold("hello")
    kubectl.apply(hello())
    standin.settle()
    assert hook_double.bodies(SYNC) == []
    assert kubectl.object("ConfigMap", "hello", "cm") is None
    standin.metacontroller.release("hello")
    standin.settle()
    assert kubectl.object("ConfigMap", "hello", "cm")["data"] == {"a": "1"}


def test_holding_a_controller_that_is_not_loaded_is_an_error(standin: Standin) -> None:
    with pytest.raises(KeyError, match="nobody"):
        standin.metacontroller.hold("nobody")
