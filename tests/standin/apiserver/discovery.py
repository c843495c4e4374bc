"""Discovery documents built from the kinds the store serves (built-ins and registered CRDs).

Only the legacy (unaggregated) forms are served: `/api` (APIVersions), `/apis` (APIGroupList)
and `/api/v1`, `/apis/<group>/<version>` (APIResourceList). Clients that ask for aggregated
discovery (`as=APIGroupDiscoveryList`) accept the legacy answer and fall back, as they do
against older servers.
"""

from __future__ import annotations

from typing import Any

from tests.standin.kinds import ResourceType
from tests.standin.store import KUBERNETES_VERSION

# Every verb a served kind answers; there is no watch or deletecollection.
VERBS = ["create", "delete", "get", "list", "patch", "update"]
SUBRESOURCE_VERBS = ["get", "patch", "update"]
# The short names a real API server announces for the built-in kinds the stand-in models
# (the store's kind registry knows only the CRDs' own short names).
BUILTIN_SHORT_NAMES = {
    "namespaces": ["ns"],
    "configmaps": ["cm"],
    "services": ["svc"],
    "serviceaccounts": ["sa"],
    "persistentvolumeclaims": ["pvc"],
    "events": ["ev"],
    "pods": ["po"],
    "cronjobs": ["cj"],
    "deployments": ["deploy"],
    "statefulsets": ["sts"],
    "customresourcedefinitions": ["crd", "crds"],
}


def version_info() -> dict[str, str]:
    """`/version`: the Kubernetes version whose schemas the stand-in validates against."""
    major, minor = KUBERNETES_VERSION.split(".")
    return {
        "major": major,
        "minor": minor,
        "gitVersion": f"v{KUBERNETES_VERSION}.0",
        "platform": "linux/amd64",
    }


def api_versions(server_address: str) -> dict[str, Any]:
    """`/api`: the core group's versions."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def api_group_list(types: list[ResourceType]) -> dict[str, Any]:
    """`/apis`: every named group with its (one) served version."""
    versions: dict[str, set[str]] = {}
    for rtype in types:
        if rtype.group:
            versions.setdefault(rtype.group, set()).add(rtype.version)
    groups = []
    for group in sorted(versions):
        entries = [
            {"groupVersion": f"{group}/{version}", "version": version}
            for version in sorted(versions[group])
        ]
        groups.append({"name": group, "versions": entries, "preferredVersion": entries[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_resource_list(types: list[ResourceType], group: str, version: str) -> dict[str, Any]:
    """`/api/v1` or `/apis/<group>/<version>`: the kinds of one group version."""
    resources: list[dict[str, Any]] = []
    for rtype in sorted(types, key=lambda t: t.plural):
        if rtype.group != group or rtype.version != version:
            continue
        entry: dict[str, Any] = {
            "name": rtype.plural,
            "singularName": rtype.kind.lower(),
            "namespaced": rtype.namespaced,
            "kind": rtype.kind,
            "verbs": VERBS,
        }
        short_names = list(rtype.short_names) or (
            BUILTIN_SHORT_NAMES.get(rtype.plural, []) if rtype.builtin else []
        )
        if short_names:
            entry["shortNames"] = short_names
        resources.append(entry)
        if rtype.status_subresource:
            resources.append(
                {
                    "name": f"{rtype.plural}/status",
                    "singularName": "",
                    "namespaced": rtype.namespaced,
                    "kind": rtype.kind,
                    "verbs": SUBRESOURCE_VERBS,
                }
            )
    group_version = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


def has_group_version(types: list[ResourceType], group: str, version: str) -> bool:
    """Whether any served kind is in this group version."""
    return any(t.group == group and t.version == version for t in types)
