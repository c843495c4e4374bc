"""Reading and writing zkstash's resources through the API, with API errors turned into one
sentence (the server's own Status message) instead of a client traceback."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from plugin.errors import PluginError


@dataclass(frozen=True)
class Kind:
    """A served custom kind: API group, version, plural and kind name."""

    group: str
    version: str
    plural: str
    kind: str


BACKUP_CONFIGURATION = Kind(
    "core.kubestash.com", "v1alpha1", "backupconfigurations", "BackupConfiguration"
)
BACKUP_SESSION = Kind("core.kubestash.com", "v1alpha1", "backupsessions", "BackupSession")
SNAPSHOT = Kind("storage.kubestash.com", "v1alpha1", "snapshots", "Snapshot")
REPOSITORY = Kind("storage.kubestash.com", "v1alpha1", "repositories", "Repository")
BACKUP_STORAGE = Kind("storage.kubestash.com", "v1alpha1", "backupstorages", "BackupStorage")


def _message(error: ApiException) -> str:
    try:
        status = json.loads(error.body or "{}")
    except (TypeError, ValueError):
        status = {}
    return str(status.get("message") or error.reason or f"HTTP {error.status}")


@contextlib.contextmanager
def api_errors(action: str) -> Iterator[None]:
    """Re-raise API and connection errors as PluginError("<action>: <server's message>")."""
    try:
        yield
    except ApiException as error:
        raise PluginError(f"{action}: {_message(error)}") from None
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raise PluginError(f"{action}: cannot reach the API server: {error}") from None


class Resources:
    """Custom objects and Secrets of one cluster."""

    def __init__(self, api: client.ApiClient) -> None:
        self._custom = client.CustomObjectsApi(api)
        self._core = client.CoreV1Api(api)

    def get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any]:
        """One object; PluginError (with the server's NotFound message) if absent."""
        with api_errors(f"cannot read {kind.kind} {namespace}/{name}"):
            return self._custom.get_namespaced_custom_object(
                kind.group, kind.version, namespace, kind.plural, name
            )

    def list(
        self, kind: Kind, namespace: str | None, label_selector: str = ""
    ) -> list[dict[str, Any]]:
        """Every object of a kind in one namespace (None: all namespaces)."""
        where = f"in {namespace}" if namespace else "in all namespaces"
        with api_errors(f"cannot list {kind.plural} {where}"):
            if namespace is None:
                listed = self._custom.list_cluster_custom_object(
                    kind.group, kind.version, kind.plural, label_selector=label_selector
                )
            else:
                listed = self._custom.list_namespaced_custom_object(
                    kind.group, kind.version, namespace, kind.plural, label_selector=label_selector
                )
        return list(listed.get("items") or [])

    def create(self, kind: Kind, body: dict[str, Any]) -> dict[str, Any]:
        """Create an object in its metadata.namespace."""
        meta = body["metadata"]
        with api_errors(f"cannot create {kind.kind} {meta['namespace']}/{meta['name']}"):
            return self._custom.create_namespaced_custom_object(
                kind.group, kind.version, meta["namespace"], kind.plural, body
            )

    def merge_patch(
        self, kind: Kind, namespace: str, name: str, patch: dict[str, Any]
    ) -> dict[str, Any]:
        """Apply a JSON merge patch (the client sends dicts as application/merge-patch+json)."""
        with api_errors(f"cannot patch {kind.kind} {namespace}/{name}"):
            return self._custom.patch_namespaced_custom_object(
                kind.group, kind.version, namespace, kind.plural, name, patch
            )

    def secret_data(self, namespace: str, name: str) -> dict[str, str]:
        """A Secret's decoded data. The values are secrets: callers never print them."""
        with api_errors(f"cannot read Secret {namespace}/{name}"):
            secret = self._core.read_namespaced_secret(name, namespace)
        return {key: base64.b64decode(value).decode() for key, value in (secret.data or {}).items()}
