"""The object store behaves like an API server: metadata, status subresource, finalizers, GC."""

from __future__ import annotations

import pytest

from tests.standin.clock import Clock
from tests.standin.store import AlreadyExists, Conflict, Invalid, NotFound, Store
from tests.standin.tests.conftest import HELLO_CRD, hello


@pytest.fixture
def store() -> Store:
    created = Store(Clock())
    created.create(HELLO_CRD)
    created.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "hello"}})
    return created


def configmap(name: str, owner: dict | None = None) -> dict:
    meta: dict = {"name": name, "namespace": "hello"}
    if owner is not None:
        meta["ownerReferences"] = [
            {
                "apiVersion": owner["apiVersion"],
                "kind": owner["kind"],
                "name": owner["metadata"]["name"],
                "uid": owner["metadata"]["uid"],
                "controller": True,
            }
        ]
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}}


def test_create_sets_uid_resource_version_generation_and_timestamp(store: Store) -> None:
    created = store.create(hello())
    meta = created["metadata"]
    assert meta["generation"] == 1
    assert meta["uid"] and meta["resourceVersion"] and meta["creationTimestamp"].endswith("Z")


def test_create_of_existing_name_is_already_exists(store: Store) -> None:
    store.create(hello())
    with pytest.raises(AlreadyExists):
        store.create(hello())


def test_namespaced_object_needs_its_namespace(store: Store) -> None:
    with pytest.raises(NotFound, match='namespaces "nowhere" not found'):
        store.create(hello(namespace="nowhere"))


def test_spec_update_moves_generation_status_update_does_not(store: Store) -> None:
    created = store.create(hello())
    created["status"] = {"phase": "Ready"}
    after_status = store.update_status(created)
    assert after_status["metadata"]["generation"] == 1
    after_status["spec"]["who"] = "Someone Else"
    after_spec = store.update(after_status)
    assert after_spec["metadata"]["generation"] == 2
    assert after_spec["status"] == {"phase": "Ready"}


def test_update_ignores_status_with_status_subresource(store: Store) -> None:
    created = store.create(hello())
    created["status"] = {"phase": "Sneaky"}
    assert "status" not in store.update(created)


def test_stale_resource_version_is_a_conflict(store: Store) -> None:
    created = store.create(hello())
    store.update({**created, "spec": {"who": "A"}})
    with pytest.raises(Conflict):
        store.update({**created, "spec": {"who": "B"}})


def test_status_fields_outside_the_crd_schema_are_pruned(store: Store) -> None:
    created = store.create(hello())
    created["status"] = {"phase": "Ready", "unknownField": 1}
    assert store.update_status(created)["status"] == {"phase": "Ready"}


def test_status_of_wrong_type_is_invalid(store: Store) -> None:
    created = store.create(hello())
    created["status"] = {"count": "three"}
    with pytest.raises(Invalid, match=r"status\.count"):
        store.update_status(created)


def test_finalizer_keeps_object_until_removed(store: Store) -> None:
    created = store.create({**hello(), "metadata": {**hello()["metadata"], "finalizers": ["x/y"]}})
    store.delete("example.com/v1", "HelloWorld", "hello", "your-name")
    terminating = store.get("example.com/v1", "HelloWorld", "hello", "your-name")
    assert terminating is not None and terminating["metadata"]["deletionTimestamp"]
    terminating["metadata"]["finalizers"] = []
    store.update(terminating)
    assert store.get("example.com/v1", "HelloWorld", "hello", created["metadata"]["name"]) is None


def test_deleting_owner_collects_dependents(store: Store) -> None:
    owner = store.create(hello())
    store.create(configmap("child", owner))
    store.delete("example.com/v1", "HelloWorld", "hello", "your-name")
    assert store.get("v1", "ConfigMap", "hello", "child") is None


def test_dependent_with_a_remaining_owner_survives(store: Store) -> None:
    first = store.create(hello("first"))
    second = store.create(hello("second"))
    child = configmap("shared", first)
    child["metadata"]["ownerReferences"].append(
        configmap("x", second)["metadata"]["ownerReferences"][0]
    )
    store.create(child)
    store.delete("example.com/v1", "HelloWorld", "hello", "first")
    survivor = store.get("v1", "ConfigMap", "hello", "shared")
    assert survivor is not None
    assert [r["name"] for r in survivor["metadata"]["ownerReferences"]] == ["second"]


def test_secret_string_data_is_stored_base64(store: Store) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "hello"},
        "stringData": {"RESTIC_PASSWORD": "changeit"},
    }
    assert store.create(secret)["data"] == {"RESTIC_PASSWORD": "Y2hhbmdlaXQ="}


def test_invalid_builtin_object_is_rejected_with_its_field(store: Store) -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j", "namespace": "hello"},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i", "bogus": 1}]}}},
    }
    with pytest.raises(Invalid, match="bogus"):
        store.create(job)


def test_label_selector_lists_matching_objects(store: Store) -> None:
    labelled = configmap("a")
    labelled["metadata"]["labels"] = {"app": "zk", "tier": "db"}
    store.create(labelled)
    store.create(configmap("b"))
    selector = {
        "matchLabels": {"app": "zk"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["db"]}],
    }
    assert [o["metadata"]["name"] for o in store.list("v1", "ConfigMap", "hello", selector)] == [
        "a"
    ]


def test_deleting_a_namespace_deletes_its_objects(store: Store) -> None:
    store.create(configmap("a"))
    store.delete("v1", "Namespace", None, "hello")
    assert store.get("v1", "ConfigMap", "hello", "a") is None
    assert store.get("v1", "Namespace", None, "hello") is None


def test_watchers_see_every_change(store: Store) -> None:
    events: list[tuple[str, str]] = []
    store.subscribe(lambda event, obj: events.append((event, obj["metadata"]["name"])))
    store.create(configmap("a"))
    store.delete("v1", "ConfigMap", "hello", "a")
    assert events == [("ADDED", "a"), ("DELETED", "a")]
