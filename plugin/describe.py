"""`kubectl zkstash describe FILE`: what the hooks would make of the custom resources in FILE,
without a cluster — the children each would get and the status it would report.

Each parent in FILE goes through the real hook functions (`hooks.controllers`) as
Metacontroller would call them on the first sync: `customize` for the related-object rules,
then `sync` with those related objects taken from FILE and `--with` files, and no children yet.
Server-set metadata the hooks read (uid, generation, creationTimestamp) is filled in when the
file leaves it out: a uid derived from the object's identity and the current time.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hooks.controllers import CONTROLLERS
from hooks.protocol import parse_request
from plugin.errors import PluginError, UsageError
from plugin.related import gather
from schemas.loader import InputError, load_documents

HOOK_VERSION = "v2"  # every zkstash controller in manifests/metacontroller uses hooks v2

# Parent kinds of the CompositeControllers in manifests/metacontroller, with their hooks.
PARENTS: dict[tuple[str, str], str] = {
    ("storage.kubestash.com/v1alpha1", "BackupStorage"): "backupstorage",
    ("storage.kubestash.com/v1alpha1", "Repository"): "repository",
    ("storage.kubestash.com/v1alpha1", "Snapshot"): "snapshot",
    ("core.kubestash.com/v1alpha1", "BackupConfiguration"): "backupconfiguration",
    ("core.kubestash.com/v1alpha1", "BackupSession"): "backupsession",
    ("core.kubestash.com/v1alpha1", "RestoreSession"): "restoresession",
}


# Kinds without a namespace (every other kind in a file gets -n or "default").
CLUSTER_SCOPED = {
    ("v1", "Namespace"),
    ("addons.kubestash.com/v1alpha1", "Addon"),
    ("addons.kubestash.com/v1alpha1", "Function"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
}


@dataclass(frozen=True)
class Outcome:
    """One parent's first sync: its identity, the children and the status the hook answered."""

    kind: str
    namespace: str
    name: str
    children: list[dict[str, Any]]
    status: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """For `-o json|yaml`."""
        return {
            "parent": {"kind": self.kind, "namespace": self.namespace, "name": self.name},
            "children": self.children,
            "status": self.status,
        }


def load(paths: Sequence[str]) -> list[dict[str, Any]]:
    """Every object in the files (or the *.yaml files of folders); UsageError names the file."""
    documents: list[dict[str, Any]] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files = sorted(p for p in path.glob("*.y*ml") if p.name != "kustomization.yaml")
        elif path.is_file():
            files = [path]
        else:
            raise UsageError(f"{given}: no such file or folder")
        for file in files:
            try:
                documents += [d for d in load_documents(file) if isinstance(d, dict)]
            except InputError as error:
                raise UsageError(str(error)) from None
    for index, doc in enumerate(documents):
        if not isinstance(doc.get("metadata"), dict) or not doc["metadata"].get("name"):
            raise UsageError(f"{doc.get('kind', 'object')} #{index + 1}: metadata.name is required")
    return documents


def _server_side(obj: dict[str, Any], namespace: str, now: dt.datetime) -> dict[str, Any]:
    """The object as the API server would store it: namespace, uid, generation, timestamp."""
    meta = {**obj["metadata"]}
    if (obj.get("apiVersion"), obj.get("kind")) in CLUSTER_SCOPED:
        meta.pop("namespace", None)
    else:
        meta.setdefault("namespace", namespace)
    identity = f"{obj.get('apiVersion')}/{obj.get('kind')}/{meta.get('namespace')}/{meta['name']}"
    meta.setdefault("uid", str(uuid.uuid5(uuid.NAMESPACE_URL, identity)))
    meta.setdefault("generation", 1)
    meta.setdefault("creationTimestamp", now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return {**obj, "metadata": meta}


def _controller(name: str) -> dict[str, Any]:
    hooks = {hook: {"version": HOOK_VERSION} for hook in ("sync", "customize", "finalize")}
    return {
        "apiVersion": "metacontroller.k8s.io/v1alpha1",
        "kind": "CompositeController",
        "metadata": {"name": f"zkstash-{name}"},
        "spec": {"generateSelector": True, "hooks": hooks},
    }


def first_sync(parent: dict[str, Any], world: list[dict[str, Any]]) -> Outcome:
    """Run one parent through its controller's customize and sync hooks."""
    name = PARENTS[(parent["apiVersion"], parent["kind"])]
    module = CONTROLLERS[name]
    controller = _controller(name)
    meta = parent["metadata"]
    try:
        rules: list[dict[str, Any]] = []
        if hasattr(module, "customize"):
            customized = module.customize(
                parse_request({"controller": controller, "parent": parent})
            )
            rules = list(customized.get("relatedResources") or [])
        request = {
            "controller": controller,
            "parent": parent,
            "children": {},
            "related": gather(rules, world),
            "finalizing": False,
        }
        response = module.sync(parse_request(request))
    except Exception as error:  # the hooks answer 500 here; say which parent made them fail
        raise PluginError(
            f"the {name} hook failed on {parent['kind']} {meta['namespace']}/{meta['name']}: "
            f"{type(error).__name__}: {error}"
        ) from None
    return Outcome(
        parent["kind"],
        meta["namespace"],
        meta["name"],
        list(response.get("children") or []),
        dict(response.get("status") or {}),
    )


def describe(
    files: Sequence[str], with_files: Sequence[str], namespace: str, now: dt.datetime | None = None
) -> list[Outcome]:
    """First-sync outcomes of every parent in `files`, in file order."""
    when = now or dt.datetime.now(dt.UTC)
    given = [_server_side(d, namespace, when) for d in load(files)]
    world = given + [_server_side(d, namespace, when) for d in load(with_files)]
    parents = [d for d in given if (d.get("apiVersion"), d.get("kind")) in PARENTS]
    if not parents:
        kinds = ", ".join(sorted(kind for _, kind in PARENTS))
        raise UsageError(f"{', '.join(files)} holds none of the kinds the hooks control ({kinds})")
    return [first_sync(parent, world) for parent in parents]


def render(outcome: Outcome) -> list[str]:
    """Human-readable lines: the parent, its phase, conditions and children."""
    lines = [f"{outcome.kind} {outcome.namespace}/{outcome.name}"]
    lines.append(f"  Phase: {outcome.status.get('phase') or '<none>'}")
    conditions = outcome.status.get("conditions") or []
    if conditions:
        lines.append("  Conditions:")
        for condition in conditions:
            reason = f" ({condition['reason']})" if condition.get("reason") else ""
            message = f": {condition['message']}" if condition.get("message") else ""
            lines.append(f"    {condition.get('type')}={condition.get('status')}{reason}{message}")
    lines.append(
        f"  Children ({len(outcome.children)}):" if outcome.children else "  Children: none"
    )
    for child in outcome.children:
        child_meta = child.get("metadata") or {}
        where = f"{child_meta['namespace']}/" if child_meta.get("namespace") else ""
        lines.append(f"    {child.get('kind')} {where}{child_meta.get('name')}")
    return lines
