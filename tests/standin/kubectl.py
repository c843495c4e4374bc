"""A `kubectl`-like front of the stand-in: apply, delete, get (tables), wait."""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path
from typing import Any

from schemas.loader import load_documents
from tests.standin.apiserver.tables import age, json_path
from tests.standin.kinds import ResourceType
from tests.standin.standin import Standin
from tests.standin.store import NotFound


def _documents(source: str | Path | list[dict[str, Any]] | dict[str, Any]) -> list[dict[str, Any]]:
    if isinstance(source, dict):
        return [source]
    if isinstance(source, list):
        return source
    path = Path(source)
    files = (
        sorted(p for p in path.rglob("*.y*ml") if p.name != "kustomization.yaml")
        if path.is_dir()
        else [path]
    )
    return [d for f in files for d in load_documents(f) if isinstance(d, dict)]


class Kubectl:
    """`kubectl apply/delete/get/wait` against a stand-in."""

    def __init__(self, standin: Standin) -> None:
        self.standin = standin
        self.store = standin.store

    def apply(self, source: str | Path | list[dict[str, Any]] | dict[str, Any]) -> list[str]:
        """Create or update (spec, labels, annotations; status kept) every object; like `apply -f`.

        Returns kubectl's lines, e.g. `backupstorage.storage.kubestash.com/local-storage created`.
        Namespaces are applied first, as kubectl's ordering of a folder would need them.
        """
        documents = sorted(_documents(source), key=lambda d: d.get("kind") != "Namespace")
        lines = []
        for doc in documents:
            rtype = self.store.type_of(doc)
            doc = copy.deepcopy(doc)
            meta = doc.setdefault("metadata", {})
            if rtype.namespaced and not meta.get("namespace"):
                meta["namespace"] = "default"
            current = self.store.get(
                doc["apiVersion"], doc["kind"], meta.get("namespace"), meta["name"]
            )
            label = f"{rtype.kind.lower()}.{rtype.group or ''}".rstrip(".") + f"/{meta['name']}"
            if current is None:
                self.store.create(doc)
                lines.append(f"{label} created")
                continue
            updated = copy.deepcopy(current)
            for key, value in doc.items():
                if key not in ("metadata", "status"):
                    updated[key] = value
            for key in [
                k
                for k in current
                if k not in doc and k not in ("metadata", "status", "apiVersion", "kind")
            ]:
                updated.pop(key)
            for field in ("labels", "annotations"):
                if field in meta:
                    updated["metadata"][field] = {
                        **(current["metadata"].get(field) or {}),
                        **meta[field],
                    }
            updated["metadata"].pop("resourceVersion", None)
            stored = self.store.update(updated)
            lines.append(f"{label} {'configured' if stored != current else 'unchanged'}")
        self.standin.step()
        return lines

    def delete(self, kind: str, namespace: str | None, name: str) -> str:
        """Delete one object (background propagation); returns kubectl's line."""
        rtype = self.store.kinds.lookup(kind)
        self.store.delete(rtype.api_version, rtype.kind, namespace, name)
        self.standin.step()
        return f'{rtype.kind.lower()}.{rtype.group} "{name}" deleted'.replace(". ", " ")

    def patch(
        self, kind: str, namespace: str | None, name: str, spec: dict[str, Any]
    ) -> dict[str, Any]:
        """Merge `spec` into the object's spec (like `kubectl patch --type merge -p {spec: …}`)."""
        obj = self.object(kind, namespace, name)
        if obj is None:
            raise NotFound(f'{kind} "{name}" not found')
        obj["spec"] = _merge_patch(obj.get("spec") or {}, spec)
        obj["metadata"].pop("resourceVersion", None)
        stored = self.store.update(obj)
        self.standin.step()
        return stored

    def object(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """One object (`kubectl get -o json`), or None."""
        rtype = self.store.kinds.lookup(kind)
        return self.store.get(rtype.api_version, rtype.kind, namespace, name)

    def objects(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Every object of a kind, optionally in one namespace."""
        rtype = self.store.kinds.lookup(kind)
        return self.store.list(rtype.api_version, rtype.kind, namespace)

    def get(self, kind: str, namespace: str | None = None) -> str:
        """A `kubectl get <kind>` table, columns from the CRD's additionalPrinterColumns."""
        rtype = self.store.kinds.lookup(kind)
        return render_table(
            rtype, self.objects(kind, namespace), self.standin.clock.now(), namespace is None
        )

    def phase(self, kind: str, namespace: str | None, name: str) -> str | None:
        """The object's `.status.phase` (None if absent or no such object)."""
        obj = self.object(kind, namespace, name)
        return (obj.get("status") or {}).get("phase") if obj else None

    def wait_for(
        self, kind: str, namespace: str | None, name: str, phase: str, timeout: float = 60.0
    ) -> dict[str, Any]:
        """Run the stand-in until the object's phase is `phase`; returns the object."""

        def reached() -> dict[str, Any] | None:
            obj = self.object(kind, namespace, name)
            return obj if obj and (obj.get("status") or {}).get("phase") == phase else None

        def seen() -> str:
            obj = self.object(kind, namespace, name)
            now = "absent" if obj is None else f"status={obj.get('status')}"
            return f"{kind} {namespace}/{name} to reach phase {phase}; now {now}"

        return self.standin.run_until(reached, timeout, seen)

    def wait_gone(self, kind: str, namespace: str | None, name: str, timeout: float = 60.0) -> None:
        """Run the stand-in until the object no longer exists."""
        self.standin.run_until(
            lambda: self.object(kind, namespace, name) is None,
            timeout,
            lambda: (
                f"{kind} {namespace}/{name} to be gone; now {self.object(kind, namespace, name)}"
            ),
        )


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (null deletes)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict | list):
        return str(value)
    return str(value)


def render_table(
    rtype: ResourceType, objects: list[dict[str, Any]], now: datetime, with_namespace: bool
) -> str:
    """Format objects as kubectl does: NAME, printer columns, AGE; aligned, upper-case headers."""
    columns = [c for c in rtype.printer_columns if int(c.get("priority", 0)) == 0]
    headers = (["NAMESPACE"] if with_namespace and rtype.namespaced else []) + ["NAME"]
    # kubectl adds AGE itself only when a CRD declares no columns (built-ins: always here)
    with_age = rtype.builtin or not columns
    headers += [c["name"].upper() for c in columns] + (["AGE"] if with_age else [])
    rows = []
    for obj in objects:
        row = [obj["metadata"].get("namespace", "")] if with_namespace and rtype.namespaced else []
        row.append(obj["metadata"]["name"])
        for column in columns:
            value = json_path(obj, column["jsonPath"])
            row.append(age(value, now) if column.get("type") == "date" and value else _cell(value))
        if with_age:
            row.append(age(obj["metadata"].get("creationTimestamp"), now))
        rows.append(row)
    if not rows:
        return f"No resources found ({rtype.plural})."
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    return "\n".join(
        "   ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip()
        for r in [headers, *rows]
    )
