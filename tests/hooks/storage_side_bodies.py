"""Request bodies and checks shared by the storage- and restore-side controller tests.

Bodies are written the way Metacontroller v2 sends them: children and related keyed by
``<Kind>.<apiVersion>`` and ``namespace/name``. The Addon and Functions are the shipped
catalog from manifests/addon/.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from hooks.protocol import COMPOSITE_RESPONSE_KEYS, parse_request
from schemas.validation import validate

NAMESPACE = "demo"
CATALOG_DIR = Path(__file__).resolve().parents[2] / "manifests" / "addon"
# A value planted in a Secret of every body: it must never appear in a response.
PLANTED_SECRET = "planted-s3cr3t-value-4711"


def catalog() -> list[dict[str, Any]]:
    """The shipped zookeeper-addon Addon and its Functions."""
    objects = []
    for name in ("addon.yaml", "functions.yaml"):
        objects += [d for d in yaml.safe_load_all((CATALOG_DIR / name).read_text()) if d]
    return objects


def key(obj: dict[str, Any]) -> str:
    """Metacontroller's group key: ``<Kind>.<apiVersion>``."""
    return f"{obj['kind']}.{obj['apiVersion']}"


def object_map(objects: list[dict[str, Any]], kinds: list[str] = ()) -> dict[str, Any]:
    """Objects as a v2 map: every declared kind present, inner keys ``namespace/name``."""
    groups: dict[str, dict[str, Any]] = {kind: {} for kind in kinds}
    for obj in objects:
        metadata = obj["metadata"]
        inner = (
            f"{metadata['namespace']}/{metadata['name']}"
            if metadata.get("namespace")
            else (metadata["name"])
        )
        groups.setdefault(key(obj), {})[inner] = obj
    return groups


def controller(name: str, parent_resource: str, api_version: str) -> dict[str, Any]:
    """A CompositeController as Metacontroller sends it (hooks v2)."""
    hook = {"version": "v2", "webhook": {"url": f"http://zkstash-hooks.zkstash/sync/{name}"}}
    return {
        "apiVersion": "metacontroller.k8s.io/v1alpha1",
        "kind": "CompositeController",
        "metadata": {"name": f"zkstash-{name}"},
        "spec": {
            "generateSelector": True,
            "parentResource": {"apiVersion": api_version, "resource": parent_resource},
            "hooks": {"sync": hook, "finalize": hook, "customize": hook},
        },
    }


def body(
    ctrl: dict[str, Any],
    parent: dict[str, Any],
    children: list[dict[str, Any]] = (),
    related: list[dict[str, Any]] = (),
    child_kinds: list[str] = (),
    finalizing: bool = False,
) -> dict[str, Any]:
    """A sync (or finalize) request body."""
    return {
        "controller": ctrl,
        "parent": parent,
        "children": object_map(list(children), list(child_kinds)),
        "related": object_map(list(related)),
        "finalizing": finalizing,
    }


def call(module: Any, request_body: dict[str, Any]) -> dict[str, Any]:
    """Run a controller's sync on a body (parsed as the server would) and return the response.

    The response goes through a JSON round trip, as it does on the wire.
    """
    response = module.sync(parse_request(json.loads(json.dumps(request_body))))
    return json.loads(json.dumps(response))


def assert_strict_keys(response: dict[str, Any]) -> None:
    """Only the keys Metacontroller's v2 strict mode allows at the top level."""
    assert set(response) <= set(COMPOSITE_RESPONSE_KEYS), set(response)


def assert_children_valid(response: dict[str, Any]) -> None:
    """Every child validates: Kubernetes kinds strictly against 1.29, ours against schemas."""
    for child in response["children"]:
        if child["apiVersion"] in ("v1", "batch/v1"):
            kubernetes_validate.validate(child, "1.29", strict=True)
        else:
            assert validate(child) == [], (child["metadata"]["name"], validate(child))


def assert_no_secret(response: dict[str, Any]) -> None:
    """The planted Secret value appears nowhere in the response."""
    assert PLANTED_SECRET not in json.dumps(response)


def planted_secret(name: str, namespace: str = NAMESPACE) -> dict[str, Any]:
    """A Secret whose every value is the planted secret (base64 and stringData alike)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "stringData": {"AWS_SECRET_ACCESS_KEY": PLANTED_SECRET, "RESTIC_PASSWORD": PLANTED_SECRET},
        "data": {"AWS_ACCESS_KEY_ID": PLANTED_SECRET},
    }


def storage(
    name: str = "s3-storage", deletion_policy: str = "WipeOut", usage_from: str = "All"
) -> dict[str, Any]:
    """A BackupStorage on S3 with a credentials Secret."""
    return {
        "apiVersion": "storage.kubestash.com/v1alpha1",
        "kind": "BackupStorage",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "uid": f"uid-{name}",
            "generation": 1,
            "creationTimestamp": "2026-11-01T09:00:00Z",
        },
        "spec": {
            "storage": {
                "provider": "s3",
                "s3": {
                    "endpoint": "http://127.0.0.1:8333",
                    "bucket": "zk",
                    "prefix": "demo",
                    "secretName": "s3-secret",
                },
            },
            "usagePolicy": {"allowedNamespaces": {"from": usage_from}},
            "deletionPolicy": deletion_policy,
        },
    }


def repository(name: str = "s3-repo", deletion_policy: str = "Delete") -> dict[str, Any]:
    """A Repository owned by BackupConfiguration sample-backup."""
    return {
        "apiVersion": "storage.kubestash.com/v1alpha1",
        "kind": "Repository",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "uid": f"uid-{name}",
            "generation": 1,
            "creationTimestamp": "2026-11-01T09:05:00Z",
            "labels": {
                "kubestash.com/invoker-kind": "BackupConfiguration",
                "kubestash.com/invoker-name": "sample-backup",
            },
            "ownerReferences": [
                {
                    "apiVersion": "core.kubestash.com/v1alpha1",
                    "kind": "BackupConfiguration",
                    "name": "sample-backup",
                    "uid": "uid-bc",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "appRef": {
                "apiGroup": "kubedb.com",
                "kind": "ZooKeeper",
                "name": "sample-zookeeper",
                "namespace": NAMESPACE,
            },
            "storageRef": {"name": "s3-storage", "namespace": NAMESPACE},
            "path": "/zookeeper",
            "deletionPolicy": deletion_policy,
            "encryptionSecret": {"name": "encrypt-secret", "namespace": NAMESPACE},
        },
    }


def terminated_pod(
    name: str, labels: dict[str, str], result: dict[str, Any] | str, job_uid: str
) -> dict[str, Any]:
    """A finished executor pod whose termination message carries ``result``."""
    message = result if isinstance(result, str) else json.dumps(result)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": labels,
            "creationTimestamp": "2026-11-25T10:00:00Z",
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "name": "x",
                    "uid": job_uid,
                    "controller": True,
                }
            ],
        },
        "spec": {"containers": [{"name": "executor", "image": "executor"}]},
        "status": {
            "phase": "Succeeded",
            "containerStatuses": [
                {
                    "name": "executor",
                    "ready": False,
                    "restartCount": 0,
                    "image": "executor",
                    "imageID": "",
                    "state": {"terminated": {"exitCode": 0, "message": message}},
                }
            ],
        },
    }


def job(name: str, labels: dict[str, str], uid: str, state: str) -> dict[str, Any]:
    """An observed Job in state Running, Complete or Failed."""
    status: dict[str, Any] = {"startTime": "2026-11-25T10:00:00Z"}
    if state == "Running":
        status["active"] = 1
    else:
        status["conditions"] = [
            {
                "type": state,
                "status": "True",
                "lastTransitionTime": "2026-11-25T10:00:05Z",
                "reason": "BackoffLimitExceeded" if state == "Failed" else "",
                "message": "Job has reached the specified backoff limit"
                if state == "Failed"
                else "",
            }
        ]
        if state == "Complete":
            status["completionTime"] = "2026-11-25T10:00:05Z"
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "uid": uid,
            "labels": labels,
            "creationTimestamp": "2026-11-25T10:00:00Z",
        },
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "executor", "image": "e"}],
                }
            }
        },
        "status": status,
    }
