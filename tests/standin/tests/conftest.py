"""Fixtures of the stand-in's own tests: a scripted hook double and a stand-in wired to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.standin.kubectl import Kubectl
from tests.standin.standin import Standin
from tests.standin.tests.hook_double import HookDouble

# A custom kind of the protocol reference's examples, with a status schema.
HELLO_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "helloworlds.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"kind": "HelloWorld", "plural": "helloworlds", "singular": "helloworld"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"}
                ],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            },
                            "status": {
                                "type": "object",
                                "properties": {
                                    "observedGeneration": {"type": "integer"},
                                    "phase": {"type": "string"},
                                    "count": {"type": "integer"},
                                },
                            },
                        },
                    }
                },
            }
        ],
    },
}


def composite(name: str, **spec: Any) -> dict[str, Any]:
    """A CompositeController for HelloWorld parents and ConfigMap children (v2 hooks)."""
    hooks = {
        "sync": {"version": "v2", "webhook": {"url": f"http://hooks.example/sync/{name}"}},
    }
    hooks.update(spec.pop("hooks", {}))
    return {
        "apiVersion": "metacontroller.k8s.io/v1alpha1",
        "kind": "CompositeController",
        "metadata": {"name": name},
        "spec": {
            "generateSelector": True,
            "parentResource": {"apiVersion": "example.com/v1", "resource": "helloworlds"},
            "childResources": [
                {
                    "apiVersion": "v1",
                    "resource": "configmaps",
                    "updateStrategy": {"method": "InPlace"},
                }
            ],
            "hooks": hooks,
            **spec,
        },
    }


def hello(name: str = "your-name", namespace: str = "hello", **spec: Any) -> dict[str, Any]:
    """A HelloWorld parent."""
    return {
        "apiVersion": "example.com/v1",
        "kind": "HelloWorld",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"who": "Your Name", **spec},
    }


@pytest.fixture
def hook_double() -> Iterator[HookDouble]:
    """A scripted hooks server."""
    double = HookDouble()
    yield double
    double.close()


@pytest.fixture
def standin(hook_double: HookDouble, tmp_path: Path) -> Iterator[Standin]:
    """A stand-in without the project's manifests, knowing HelloWorld, with namespace `hello`."""
    cluster = Standin(hook_double.url, tmp_path, manifests=None, job_backoff_seconds=1.0)
    cluster.store.create(HELLO_CRD)
    cluster.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "hello"}})
    yield cluster
    cluster.close()


@pytest.fixture
def kubectl(standin: Standin) -> Kubectl:
    """kubectl against the stand-in."""
    return Kubectl(standin)
