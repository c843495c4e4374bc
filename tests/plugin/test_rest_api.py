"""The stand-in's REST API as real clients see it: kubectl (create, apply, patch, delete, get)
and the official Python client (Status errors with the API server's reasons)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kubernetes import client

from tests.e2e.conftest import cluster  # noqa: F401 - a fresh stand-in per test
from tests.plugin.conftest import run_command, write_kubeconfig
from tests.standin.standin import Standin

RETENTION = """\
apiVersion: storage.kubestash.com/v1alpha1
kind: RetentionPolicy
metadata: {name: keep-three, namespace: default}
spec:
  successfulSnapshots: {last: 3}
"""


@pytest.fixture
def kubeconfig(cluster: Standin, tmp_path: Path) -> Path:  # noqa: F811
    return write_kubeconfig(tmp_path / "kubeconfig", cluster.api.url, "default")


@pytest.fixture
def custom(cluster: Standin) -> client.CustomObjectsApi:  # noqa: F811
    configuration = client.Configuration()
    configuration.host = cluster.api.url
    return client.CustomObjectsApi(client.ApiClient(configuration))


def kubectl(kubeconfig: Path, *argv: str):
    return run_command("kubectl", *argv, kubeconfig=kubeconfig, cwd=kubeconfig.parent)


def test_kubectl_apply_creates_then_configures_a_custom_resource(kubeconfig: Path) -> None:
    manifest = kubeconfig.parent / "retention.yaml"
    manifest.write_text(RETENTION)
    assert kubectl(kubeconfig, "apply", "-f", str(manifest)).stdout.strip() == (
        "retentionpolicy.storage.kubestash.com/keep-three created"
    )
    manifest.write_text(RETENTION.replace("last: 3", "last: 5"))

    done = kubectl(kubeconfig, "apply", "-f", str(manifest))

    assert done.stdout.strip() == "retentionpolicy.storage.kubestash.com/keep-three configured"
    got = json.loads(
        kubectl(kubeconfig, "get", "retentionpolicy", "keep-three", "-o", "json").stdout
    )
    assert got["spec"]["successfulSnapshots"] == {"last": 5}


def test_kubectl_create_rejects_an_unknown_field_of_a_custom_resource(kubeconfig: Path) -> None:
    manifest = kubeconfig.parent / "bad.yaml"
    manifest.write_text(RETENTION + "  bogus: 1\n")

    done = kubectl(kubeconfig, "create", "-f", str(manifest))

    assert done.code == 1
    assert 'strict decoding error: unknown field "spec.bogus"' in done.stderr


def test_kubectl_patch_and_delete_a_built_in_object(kubeconfig: Path, cluster: Standin) -> None:  # noqa: F811
    manifest = kubeconfig.parent / "settings.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: '1'}\n"
    )
    assert kubectl(kubeconfig, "create", "-f", str(manifest)).code == 0

    patched = kubectl(
        kubeconfig, "patch", "cm", "settings", "--type", "merge", "-p", '{"data":{"a":"2"}}'
    )
    deleted = kubectl(kubeconfig, "delete", "configmap", "settings")

    assert patched.stdout.strip() == "configmap/settings patched"
    assert deleted.stdout.strip() == 'configmap "settings" deleted from default namespace'
    assert cluster.store.get("v1", "ConfigMap", "default", "settings") is None


def test_kubectl_get_of_a_missing_object_is_not_found(kubeconfig: Path) -> None:
    done = kubectl(kubeconfig, "get", "bc", "nothing")

    assert done.code == 1
    assert done.stderr.strip() == (
        'Error from server (NotFound): backupconfigurations.core.kubestash.com "nothing" not found'
    )


def test_the_python_client_gets_already_exists_with_its_reason(custom) -> None:
    body = {
        "apiVersion": "storage.kubestash.com/v1alpha1",
        "kind": "RetentionPolicy",
        "metadata": {"generateName": "keep-"},
        "spec": {"successfulSnapshots": {"last": 1}},
    }
    created = custom.create_namespaced_custom_object(
        "storage.kubestash.com", "v1alpha1", "default", "retentionpolicies", body
    )
    again = {**body, "metadata": {"name": created["metadata"]["name"]}}

    with pytest.raises(client.ApiException) as raised:
        custom.create_namespaced_custom_object(
            "storage.kubestash.com", "v1alpha1", "default", "retentionpolicies", again
        )

    assert (
        created["metadata"]["name"].startswith("keep-") and len(created["metadata"]["name"]) == 10
    )
    assert raised.value.status == 409
    assert json.loads(raised.value.body)["reason"] == "AlreadyExists"


def test_the_python_client_lists_by_label_selector_across_namespaces(custom, cluster) -> None:  # noqa: F811
    for name, team in (("a", "blue"), ("b", "green")):
        cluster.store.create(
            {
                "apiVersion": "storage.kubestash.com/v1alpha1",
                "kind": "RetentionPolicy",
                "metadata": {"name": name, "namespace": "default", "labels": {"team": team}},
                "spec": {"successfulSnapshots": {"last": 1}},
            }
        )

    listed = custom.list_cluster_custom_object(
        "storage.kubestash.com", "v1alpha1", "retentionpolicies", label_selector="team in (green)"
    )

    assert [item["metadata"]["name"] for item in listed["items"]] == ["b"]
