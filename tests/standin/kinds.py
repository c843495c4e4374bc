"""Which kinds exist, how they are named in URLs, and whether they are namespaced.

Built-in kinds are listed here; custom kinds come from CustomResourceDefinitions (the project's
manifests/crds/), exactly as an API server learns them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ResourceType:
    """One served kind: its group/version, kind, plural resource name and scope."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    status_subresource: bool
    builtin: bool
    schema: dict[str, Any] | None = None  # the CRD's openAPIV3Schema (None for built-ins)
    printer_columns: tuple[dict[str, Any], ...] = field(default=())
    short_names: tuple[str, ...] = field(default=())

    @property
    def status_schema(self) -> dict[str, Any] | None:
        """The CRD's schema of `.status`, if it declares one."""
        if self.schema is None:
            return None
        return (self.schema.get("properties") or {}).get("status")

    @property
    def api_version(self) -> str:
        """`group/version`, or just `version` for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        """Metacontroller's map key for this type: `<Kind>.<apiVersion>`."""
        return f"{self.kind}.{self.api_version}"


def split_api_version(api_version: str) -> tuple[str, str]:
    """`batch/v1` -> ("batch", "v1"); `v1` -> ("", "v1")."""
    group, _, version = api_version.rpartition("/")
    return group, version


# (apiVersion, kind, plural, namespaced, status subresource, printer columns)
_BUILTINS: tuple[tuple[str, str, str, bool, bool, tuple[dict[str, Any], ...]], ...] = (
    (
        "v1",
        "Namespace",
        "namespaces",
        False,
        True,
        ({"name": "Status", "jsonPath": ".status.phase"},),
    ),
    ("v1", "Secret", "secrets", True, False, ({"name": "Type", "jsonPath": ".type"},)),
    ("v1", "ConfigMap", "configmaps", True, False, ()),
    ("v1", "Service", "services", True, True, ()),
    ("v1", "ServiceAccount", "serviceaccounts", True, False, ()),
    ("v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, True, ()),
    ("v1", "Event", "events", True, False, ()),
    (
        "v1",
        "Pod",
        "pods",
        True,
        True,
        (
            {"name": "Status", "jsonPath": ".status.phase"},
            {"name": "Exit", "jsonPath": ".status.containerStatuses[0].state.terminated.exitCode"},
        ),
    ),
    (
        "batch/v1",
        "Job",
        "jobs",
        True,
        True,
        (
            {"name": "Succeeded", "jsonPath": ".status.succeeded"},
            {"name": "Failed", "jsonPath": ".status.failed"},
            {"name": "Active", "jsonPath": ".status.active"},
        ),
    ),
    (
        "batch/v1",
        "CronJob",
        "cronjobs",
        True,
        True,
        (
            {"name": "Schedule", "jsonPath": ".spec.schedule"},
            {"name": "Suspend", "jsonPath": ".spec.suspend"},
            {"name": "Last-Schedule", "jsonPath": ".status.lastScheduleTime"},
        ),
    ),
    ("apps/v1", "Deployment", "deployments", True, True, ()),
    ("apps/v1", "StatefulSet", "statefulsets", True, True, ()),
    ("rbac.authorization.k8s.io/v1", "Role", "roles", True, False, ()),
    ("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", True, False, ()),
    ("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", False, False, ()),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", False, False, ()),
    (
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        True,
        (),
    ),
    (
        "metacontroller.k8s.io/v1alpha1",
        "CompositeController",
        "compositecontrollers",
        False,
        True,
        (),
    ),
    (
        "metacontroller.k8s.io/v1alpha1",
        "DecoratorController",
        "decoratorcontrollers",
        False,
        True,
        (),
    ),
)


class UnknownKindError(LookupError):
    """The API server does not serve this kind (no CRD, not built in)."""


class KindRegistry:
    """The kinds this stand-in serves: built-ins plus every registered CRD."""

    def __init__(self) -> None:
        self._by_kind: dict[tuple[str, str], ResourceType] = {}
        self._by_plural: dict[tuple[str, str], ResourceType] = {}
        for api_version, kind, plural, namespaced, status, columns in _BUILTINS:
            group, version = split_api_version(api_version)
            self._add(
                ResourceType(group, version, kind, plural, namespaced, status, True, None, columns)
            )

    def _add(self, rtype: ResourceType) -> None:
        self._by_kind[(rtype.group, rtype.kind)] = rtype
        self._by_plural[(rtype.group, rtype.plural)] = rtype

    def register_crd(self, crd: dict[str, Any]) -> list[ResourceType]:
        """Learn the kind a CustomResourceDefinition declares (its storage/served version)."""
        spec = crd["spec"]
        names = spec["names"]
        versions = [v for v in spec.get("versions", []) if v.get("served", True)]
        chosen = next((v for v in versions if v.get("storage")), versions[0] if versions else None)
        if chosen is None:
            raise ValueError(
                f"CustomResourceDefinition {crd['metadata']['name']}: no served version"
            )
        schema = chosen.get("schema", {}).get("openAPIV3Schema", {})
        rtype = ResourceType(
            group=spec["group"],
            version=chosen["name"],
            kind=names["kind"],
            plural=names["plural"],
            namespaced=spec.get("scope", "Namespaced") == "Namespaced",
            status_subresource="status" in (chosen.get("subresources") or {}),
            builtin=False,
            schema=schema,
            printer_columns=tuple(chosen.get("additionalPrinterColumns") or ()),
            short_names=tuple(names.get("shortNames") or ()),
        )
        self._add(rtype)
        return [rtype]

    def by_kind(self, api_version: str, kind: str) -> ResourceType:
        """The type of objects with this apiVersion and kind."""
        group, _ = split_api_version(api_version)
        try:
            return self._by_kind[(group, kind)]
        except KeyError:
            raise UnknownKindError(
                f'no matches for kind "{kind}" in version "{api_version}"'
            ) from None

    def by_resource(self, api_version: str, plural: str) -> ResourceType:
        """The type named by a Metacontroller `{apiVersion, resource}` pair."""
        group, _ = split_api_version(api_version)
        try:
            return self._by_plural[(group, plural)]
        except KeyError:
            raise UnknownKindError(
                f'the server does not serve resource "{plural}" in "{api_version}"'
            ) from None

    def lookup(self, name: str) -> ResourceType:
        """Resolve what a user types after `kubectl get`: kind, plural or short name."""
        wanted = name.lower()
        for rtype in self._by_kind.values():
            names = {rtype.kind.lower(), rtype.plural, *rtype.short_names}
            if wanted in names or wanted == f"{rtype.plural}.{rtype.group}":
                return rtype
        raise UnknownKindError(f'the server doesn\'t have a resource type "{name}"')

    def all(self) -> list[ResourceType]:
        """Every served type."""
        return list(self._by_kind.values())
