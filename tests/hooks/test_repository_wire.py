"""The storage-side controllers over HTTP and their CompositeController manifests."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hooks.app import create_app
from hooks.controllers import CONTROLLERS
from tests.hooks.storage_side_bodies import (
    PLANTED_SECRET,
    body,
    catalog,
    controller,
    planted_secret,
)
from tests.hooks.storage_side_bodies import repository as repository_object
from tests.hooks.storage_side_bodies import storage as storage_object

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests" / "metacontroller"
STORAGE_SIDE = ("backupstorage", "repository", "snapshot")


def snapshot_object() -> dict:
    return {
        "apiVersion": "storage.kubestash.com/v1alpha1",
        "kind": "Snapshot",
        "metadata": {"name": "s3-repo-bc-s-1", "namespace": "demo", "uid": "u", "generation": 1},
        "spec": {
            "repository": "s3-repo",
            "session": "s",
            "backupSession": "bc-s-1",
            "deletionPolicy": "WipeOut",
        },
    }


PARENTS = {
    "backupstorage": storage_object,
    "repository": repository_object,
    "snapshot": snapshot_object,
}


@pytest.mark.parametrize("name", STORAGE_SIDE)
def test_same_request_gives_byte_identical_http_response(name: str) -> None:
    client = create_app().test_client()
    request = body(
        controller(name, f"{name}s", "storage.kubestash.com/v1alpha1"),
        PARENTS[name](),
        related=[planted_secret("s3-secret"), *catalog()],
        child_kinds=["Job.batch/v1"],
    )
    first = client.post(f"/sync/{name}", json=request)
    second = client.post(f"/sync/{name}", json=request)
    assert first.status_code == 200
    assert first.data == second.data
    assert PLANTED_SECRET.encode() not in first.data


@pytest.mark.parametrize("name", STORAGE_SIDE)
def test_manifest_uses_hooks_v2_on_registered_routes(name: str) -> None:
    manifest = yaml.safe_load((MANIFESTS / f"{name}.yaml").read_text())
    assert manifest["kind"] == "CompositeController"
    hooks = manifest["spec"]["hooks"]
    assert {hook["version"] for hook in hooks.values()} == {"v2"}
    for hook_name, hook in hooks.items():
        route, controller_name = hook["webhook"]["path"].strip("/").split("/")
        assert controller_name == name and controller_name in CONTROLLERS
        assert hasattr(CONTROLLERS[name], route), (hook_name, route)
    children = {c["resource"] for c in manifest["spec"]["childResources"]}
    assert "jobs" in children
