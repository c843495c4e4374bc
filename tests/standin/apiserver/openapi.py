"""OpenAPI v3 documents: what `kubectl create/apply` read to learn that the server validates
fields itself (`fieldValidation` on PATCH), and what `kubectl explain` reads for a CRD.

`/openapi/v3` lists one document per group version; each document has, per kind, the object
path with a PATCH operation tagged with its GroupVersionKind and the media types served, and,
for a CRD, its openAPIV3Schema as a component. Built-in kinds get no component schema: kubectl
then computes strategic merge patches from its compiled-in types, as it does for any server.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tests.standin.apiserver.patches import JSON_PATCH, MERGE_PATCH
from tests.standin.kinds import ResourceType

_QUERY_PARAMETERS = ("dryRun", "fieldManager", "fieldValidation", "force")


def _prefix(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _component_name(rtype: ResourceType) -> str:
    # The API server's naming: reversed group, version, kind (com.kubestash.core.v1alpha1.X).
    reversed_group = (
        ".".join(reversed(rtype.group.split("."))) if rtype.group else "io.k8s.api.core"
    )
    return f"{reversed_group}.{rtype.version}.{rtype.kind}"


def _gvk(rtype: ResourceType) -> dict[str, str]:
    return {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}


def group_version_document(types: list[ResourceType], group: str, version: str) -> dict[str, Any]:
    """The OpenAPI v3 document of one group version."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for rtype in types:
        if rtype.group != group or rtype.version != version:
            continue
        scope = "/namespaces/{namespace}" if rtype.namespaced else ""
        path = f"/{_prefix(group, version)}{scope}/{rtype.plural}/{{name}}"
        reference = {"$ref": f"#/components/schemas/{_component_name(rtype)}"}
        paths[path] = {
            "patch": {
                "operationId": f"patch{rtype.kind}",
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": _gvk(rtype),
                "parameters": [
                    {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                    for name in _QUERY_PARAMETERS
                ],
                "requestBody": {
                    "content": {
                        media: {"schema": {"type": "object"}} for media in (MERGE_PATCH, JSON_PATCH)
                    }
                },
                "responses": {"200": {"content": {"application/json": {"schema": reference}}}},
            }
        }
        if rtype.schema is not None:
            schemas[_component_name(rtype)] = {
                **rtype.schema,
                "x-kubernetes-group-version-kind": [_gvk(rtype)],
            }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.30.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def root_document(types: list[ResourceType]) -> dict[str, Any]:
    """`/openapi/v3`: every group version with the URL of its document (hash = its content)."""
    group_versions = sorted({(t.group, t.version) for t in types})
    paths = {}
    for group, version in group_versions:
        document = group_version_document(types, group, version)
        digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:32]
        prefix = _prefix(group, version)
        paths[prefix] = {"serverRelativeURL": f"/openapi/v3/{prefix}?hash={digest.upper()}"}
    return {"paths": paths}
