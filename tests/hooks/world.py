"""Request bodies for hook tests: objects a cluster would hold, in Metacontroller's v2 format.

Every object is written out in full here so a test reads as the world it runs in.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

from hooks.protocol import LAST_APPLIED_ANNOTATION

ROOT = Path(__file__).resolve().parents[2]
NS = "demo"
BC_UID = "0a0a0a0a-1111-4222-8333-000000000001"
PLANTED_SECRET = "s3cr3t-Value-that-must-never-leak"


def catalog() -> list[dict[str, Any]]:
    """The shipped Addon and Functions (manifests/addon/)."""
    docs: list[dict[str, Any]] = []
    for path in sorted((ROOT / "manifests" / "addon").glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def secret(name: str, data: dict[str, str], namespace: str = NS) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "stringData": data,
    }


def planted_secrets() -> list[dict[str, Any]]:
    """Secrets holding a recognisable value that must never appear in any response."""
    return [
        secret(
            "s3-secret",
            {"AWS_ACCESS_KEY_ID": PLANTED_SECRET, "AWS_SECRET_ACCESS_KEY": PLANTED_SECRET},
        ),
        secret("encrypt-secret", {"RESTIC_PASSWORD": PLANTED_SECRET}),
        secret("sample-zookeeper-auth", {"username": "super", "password": PLANTED_SECRET}),
    ]


def namespace(name: str = NS, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/metadata.name": name, **(labels or {})},
        },
    }


def appbinding(name: str = "sample-zookeeper", ns: str = NS) -> dict[str, Any]:
    return {
        "apiVersion": "appcatalog.appscode.com/v1alpha1",
        "kind": "AppBinding",
        "metadata": {"name": name, "namespace": ns, "uid": f"ab-{name}"},
        "spec": {
            "type": "kubedb.com/zookeeper",
            "appRef": {
                "apiGroup": "kubedb.com",
                "kind": "ZooKeeper",
                "name": name,
                "namespace": ns,
            },
            "version": "3.9.1",
            "clientConfig": {"service": {"name": name, "port": 2181, "scheme": "http"}},
            "secret": {"name": f"{name}-auth"},
        },
    }


def backup_storage(
    name: str = "s3-storage",
    ns: str = NS,
    *,
    allowed_from: str = "All",
    selector: dict[str, Any] | None = None,
    default: bool = False,
    phase: str = "Ready",
) -> dict[str, Any]:
    usage: dict[str, Any] = {"allowedNamespaces": {"from": allowed_from}}
    if selector is not None:
        usage["allowedNamespaces"]["selector"] = selector
    return {
        "apiVersion": "storage.kubestash.com/v1alpha1",
        "kind": "BackupStorage",
        "metadata": {"name": name, "namespace": ns, "generation": 1},
        "spec": {
            "storage": {
                "provider": "s3",
                "s3": {
                    "endpoint": "http://s3.storage:8333",
                    "bucket": "kubestash-zk",
                    "prefix": "demo",
                    "region": "us-east-1",
                    "secretName": "s3-secret",
                },
            },
            "usagePolicy": usage,
            "default": default,
            "deletionPolicy": "WipeOut",
        },
        "status": {"phase": phase},
    }


def retention_policy(
    name: str = "demo-retention", ns: str = NS, *, default: bool = True, allowed_from: str = "Same"
) -> dict[str, Any]:
    return {
        "apiVersion": "storage.kubestash.com/v1alpha1",
        "kind": "RetentionPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "default": default,
            "failedSnapshots": {"last": 2},
            "maxRetentionPeriod": "2mo",
            "successfulSnapshots": {"last": 5},
            "usagePolicy": {"allowedNamespaces": {"from": allowed_from}},
        },
    }


def session(name: str, repos: list[tuple[str, str]], **extra: Any) -> dict[str, Any]:
    """A BackupConfiguration session with repositories given as (name, backend)."""
    return {
        "name": name,
        "scheduler": {"schedule": "*/5 * * * *", "jobTemplate": {"backoffLimit": 1}},
        "repositories": [
            {
                "name": repo,
                "backend": backend,
                "directory": f"/{repo}",
                "encryptionSecret": {"name": "encrypt-secret", "namespace": NS},
            }
            for repo, backend in repos
        ],
        "addon": {"name": "zookeeper-addon", "tasks": [{"name": "logical-backup"}]},
        **extra,
    }


def backup_configuration(
    name: str = "sample-zookeeper-backup",
    sessions: list[dict[str, Any]] | None = None,
    backends: list[dict[str, Any]] | None = None,
    *,
    paused: bool = False,
    status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "target": {
            "apiGroup": "kubedb.com",
            "kind": "ZooKeeper",
            "name": "sample-zookeeper",
            "namespace": NS,
        },
        "backends": backends
        if backends is not None
        else [
            {
                "name": "s3-backend",
                "storageRef": {"name": "s3-storage", "namespace": NS},
                "retentionPolicy": {"name": "demo-retention", "namespace": NS},
            },
        ],
        "sessions": sessions
        if sessions is not None
        else [session("frequent-backup", [("s3-zookeeper-repo", "s3-backend")])],
    }
    if paused:
        spec["paused"] = True
    return {
        "apiVersion": "core.kubestash.com/v1alpha1",
        "kind": "BackupConfiguration",
        "metadata": {
            "name": name,
            "namespace": NS,
            "uid": BC_UID,
            "generation": 1,
            "creationTimestamp": "2024-09-17T11:36:02Z",
        },
        "spec": spec,
        **({"status": status} if status else {}),
    }


def controller(name: str, kind: str = "CompositeController") -> dict[str, Any]:
    return {
        "apiVersion": "metacontroller.k8s.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": {"hooks": {"sync": {"version": "v2"}}},
    }


def _key(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]


def group(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Objects as Metacontroller sends them: {"Kind.apiVersion": {"ns/name": obj}}."""
    grouped: dict[str, dict[str, Any]] = {}
    for obj in objects:
        grouped.setdefault(f"{obj['kind']}.{obj['apiVersion']}", {})[_key(obj)] = obj
    return grouped


def observed(desired: dict[str, Any], uid: str = "", **status: Any) -> dict[str, Any]:
    """How a desired child looks once applied: server metadata, last-applied, a status."""
    obj = copy.deepcopy(desired)
    obj["metadata"].setdefault("namespace", NS)
    obj["metadata"]["uid"] = uid or f"uid-{obj['metadata']['name']}"
    obj["metadata"].setdefault("creationTimestamp", "2024-09-17T11:36:10Z")
    obj["metadata"].setdefault("annotations", {})[LAST_APPLIED_ANNOTATION] = json.dumps(
        desired, sort_keys=True
    )
    if status:
        obj["status"] = status
    return obj


def sync_body(
    controller_name: str,
    parent: dict[str, Any],
    children: list[dict[str, Any]] = (),  # type: ignore[assignment]
    related: list[dict[str, Any]] = (),  # type: ignore[assignment]
    *,
    finalizing: bool = False,
    kind: str = "CompositeController",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "controller": controller(controller_name, kind),
        "related": group(list(related)),
        "finalizing": finalizing,
    }
    if kind == "DecoratorController":
        body["object"] = parent
        body["attachments"] = group(list(children))
    else:
        body["parent"] = parent
        body["children"] = group(list(children))
    return body
