"""What a Kubernetes API URL names: discovery, or a resource (collection, object, subresource).

Paths follow the API server's layout:

    /api/v1[/namespaces/<ns>]/<plural>[/<name>[/<subresource>]]
    /apis/<group>/<version>[/namespaces/<ns>]/<plural>[/<name>[/<subresource>]]

`/api/v1/namespaces/<name>` is the Namespace itself (and `/status` its subresource), which is
why `namespaces/<x>/status` and `namespaces/<x>/finalize` are not read as a namespaced list.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

_NAMESPACE_SUBRESOURCES = ("status", "finalize")


class RouteError(LookupError):
    """The path names nothing the API serves."""


@dataclass(frozen=True)
class Discovery:
    """A discovery document: `/version`, `/api`, `/apis` or a group version's resource list."""

    what: str  # "version", "api", "apis", "resources", "openapi" or "openapi-group-version"
    group: str = ""
    version: str = ""


@dataclass(frozen=True)
class ResourcePath:
    """A resource URL: the collection (name ""), one object, or one object's subresource.

    `namespace` is None for a cluster-wide URL (a cluster-scoped kind, or a list across every
    namespace).
    """

    group: str
    version: str
    plural: str
    namespace: str | None
    name: str = ""
    subresource: str = ""

    @property
    def api_version(self) -> str:
        """`group/version`, or just `version` for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version


def parse_path(path: str) -> Discovery | ResourcePath:
    """Classify a request path (query string already removed); RouteError if it names nothing."""
    parts = [unquote(p) for p in path.strip("/").split("/") if p]
    if parts == ["version"]:
        return Discovery("version")
    if parts[:2] == ["openapi", "v3"]:
        return _openapi_path(parts[2:], path)
    if parts and parts[0] == "api":
        if len(parts) == 1:
            return Discovery("api")
        return _group_version_path("", parts[1], parts[2:], path)
    if parts and parts[0] == "apis":
        if len(parts) == 1:
            return Discovery("apis")
        if len(parts) == 2:
            raise RouteError(f"the server could not find the requested resource ({path})")
        return _group_version_path(parts[1], parts[2], parts[3:], path)
    raise RouteError(f"the server could not find the requested resource ({path})")


def _openapi_path(rest: list[str], path: str) -> Discovery:
    if not rest:
        return Discovery("openapi")
    if rest[0] == "api" and len(rest) == 2:
        return Discovery("openapi-group-version", "", rest[1])
    if rest[0] == "apis" and len(rest) == 3:
        return Discovery("openapi-group-version", rest[1], rest[2])
    raise RouteError(f"the server could not find the requested resource ({path})")


def _group_version_path(
    group: str, version: str, rest: list[str], path: str
) -> Discovery | ResourcePath:
    if not rest:
        return Discovery("resources", group, version)
    namespace: str | None = None
    if (
        rest[0] == "namespaces"
        and len(rest) >= 3
        and not (len(rest) == 3 and rest[2] in _NAMESPACE_SUBRESOURCES)
    ):
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        raise RouteError(f"the server could not find the requested resource ({path})")
    plural, name, subresource = [*rest, "", ""][:3]
    return ResourcePath(group, version, plural, namespace, name, subresource)
