"""CompositeController and DecoratorController objects, read into what the loop needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.standin.kinds import KindRegistry, ResourceType
from tests.standin.webhook import hook_url, parse_go_duration

UPDATE_METHODS = ("OnDelete", "Recreate", "InPlace")


class ControllerSpecError(ValueError):
    """A controller object Metacontroller would refuse (CreateError / SyncError on it)."""


@dataclass(frozen=True)
class Hook:
    """One hook: where to POST, with which timeout, protocol version and decoding mode."""

    url: str
    timeout: float
    version: str
    strict: bool


@dataclass(frozen=True)
class ChildType:
    """A declared child or attachment type with its update method."""

    rtype: ResourceType
    method: str


@dataclass(frozen=True)
class TargetType:
    """A parent (composite) or target (decorator) type with its selectors."""

    rtype: ResourceType
    label_selector: dict[str, Any] | None = None
    annotation_selector: dict[str, Any] | None = None


@dataclass(frozen=True)
class Controller:
    """A CompositeController or DecoratorController as the loop uses it."""

    kind: str
    name: str
    manifest: dict[str, Any]
    targets: tuple[TargetType, ...]
    children: tuple[ChildType, ...]
    hooks: dict[str, Hook] = field(default_factory=dict)
    resync_period: float | None = None
    generate_selector: bool = False

    @property
    def is_decorator(self) -> bool:
        """Whether this is a DecoratorController."""
        return self.kind == "DecoratorController"

    @property
    def finalizer(self) -> str:
        """The finalizer Metacontroller puts on parents when a finalize hook exists."""
        prefix = "decoratorcontroller" if self.is_decorator else "compositecontroller"
        return f"metacontroller.io/{prefix}-{self.name}"

    def child_type(self, key: str) -> ChildType | None:
        """The declared child type with map key `<Kind>.<apiVersion>`, if any."""
        return next((c for c in self.children if c.rtype.key == key), None)


def _hook(spec: dict[str, Any], name: str, hooks_base_url: str, where: str) -> Hook | None:
    hook = (spec.get("hooks") or {}).get(name)
    if not hook:
        return None
    webhook = hook.get("webhook") or {}
    version = hook.get("version", "v1")
    if version not in ("v1", "v2"):
        raise ControllerSpecError(f"{where}: spec.hooks.{name}.version: must be v1 or v2")
    mode = webhook.get("responseUnMarshallMode") or ("strict" if version == "v2" else "loose")
    try:
        url = hook_url(webhook, hooks_base_url)
        timeout = parse_go_duration(webhook.get("timeout"))
    except ValueError as error:
        raise ControllerSpecError(f"{where}: spec.hooks.{name}.webhook: {error}") from None
    return Hook(url=url, timeout=timeout, version=version, strict=mode == "strict")


def _child_types(
    items: list[dict[str, Any]], kinds: KindRegistry, where: str
) -> tuple[ChildType, ...]:
    result = []
    for index, item in enumerate(items or []):
        method = (item.get("updateStrategy") or {}).get("method") or "OnDelete"
        if method not in UPDATE_METHODS:
            raise ControllerSpecError(
                f"{where}: [{index}].updateStrategy.method: {method} is not supported here"
            )
        rtype = kinds.by_resource(item["apiVersion"], item["resource"])
        if rtype.api_version != item["apiVersion"]:
            rtype = _with_version(rtype, item["apiVersion"])
        result.append(ChildType(rtype, method))
    return tuple(result)


def _with_version(rtype: ResourceType, api_version: str) -> ResourceType:
    # The map key uses the declared apiVersion, whatever the server's preferred version is.
    from dataclasses import replace

    return replace(rtype, version=api_version.rpartition("/")[2])


def load_controller(
    manifest: dict[str, Any], kinds: KindRegistry, hooks_base_url: str
) -> Controller:
    """Read a CompositeController/DecoratorController object; errors name the controller."""
    kind = manifest.get("kind")
    name = manifest.get("metadata", {}).get("name", "")
    where = f"{kind} {name}"
    spec = manifest.get("spec") or {}
    if kind == "CompositeController":
        parent = spec.get("parentResource") or {}
        rtype = kinds.by_resource(parent["apiVersion"], parent["resource"])
        targets = (TargetType(rtype, parent.get("labelSelector")),)
        children = _child_types(spec.get("childResources"), kinds, f"{where} spec.childResources")
    elif kind == "DecoratorController":
        targets = tuple(
            TargetType(
                kinds.by_resource(r["apiVersion"], r["resource"]),
                r.get("labelSelector"),
                r.get("annotationSelector"),
            )
            for r in spec.get("resources") or []
        )
        children = _child_types(spec.get("attachments"), kinds, f"{where} spec.attachments")
    else:
        raise ControllerSpecError(f"{where}: not a Metacontroller controller")
    hooks = {
        hook_name: hook
        for hook_name in ("sync", "finalize", "customize")
        if (hook := _hook(spec, hook_name, hooks_base_url, where)) is not None
    }
    if "sync" not in hooks:
        raise ControllerSpecError(f"{where}: sync hook nil//not defined")
    resync = spec.get("resyncPeriodSeconds")
    return Controller(
        kind=kind,
        name=name,
        manifest=manifest,
        targets=targets,
        children=children,
        hooks=hooks,
        resync_period=max(1.0, float(resync)) if resync else None,
        generate_selector=bool(spec.get("generateSelector")),
    )
