"""An in-memory Kubernetes object store: what the API server and garbage collector do for us.

Objects are plain dicts, exactly as `kubectl get -o json` shows them. The store assigns uid,
resourceVersion, generation and creationTimestamp (from the controllable clock), keeps status
behind the status subresource, honours finalizers, garbage-collects dependents of deleted owners
(background propagation) and tells subscribers about every change.
"""

from __future__ import annotations

import base64
import copy
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import kubernetes_validate

from tests.standin.clock import Clock, rfc3339
from tests.standin.kinds import KindRegistry, ResourceType
from tests.standin.pruning import prune_resource, schema_errors
from tests.standin.selectors import labels_match

# The Kubernetes version whose built-in schemas validate Jobs, CronJobs, Pods, Secrets…
KUBERNETES_VERSION = "1.30"

Watcher = Callable[[str, dict[str, Any]], None]


class ApiError(Exception):
    """An error the API server would answer with: HTTP code, reason and message."""

    code = 500
    reason = "InternalError"

    def status(self) -> dict[str, Any]:
        """The `Status` object a client would receive."""
        return {
            "apiVersion": "v1",
            "kind": "Status",
            "status": "Failure",
            "message": str(self),
            "reason": self.reason,
            "code": self.code,
        }


class NotFound(ApiError):
    """404: the object does not exist."""

    code = 404
    reason = "NotFound"


class AlreadyExists(ApiError):
    """409: an object of that name already exists."""

    code = 409
    reason = "AlreadyExists"


class Conflict(ApiError):
    """409: the resourceVersion of the update is stale."""

    code = 409
    reason = "Conflict"


class Invalid(ApiError):
    """422: the object fails validation."""

    code = 422
    reason = "Invalid"


@dataclass(frozen=True)
class ObjectKey:
    """Identity of a stored object: group, kind, namespace ("" if cluster-scoped), name."""

    group: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}.{self.group or 'core'} {where}{self.name}"


# Fields of `metadata` only the server sets; user writes to them are ignored.
_SYSTEM_METADATA = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "managedFields",
)


def _body(obj: dict[str, Any]) -> dict[str, Any]:
    """Everything that counts as the object's spec: all but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


class Store:
    """A thread-safe in-memory API server for one stand-in cluster."""

    def __init__(self, clock: Clock, kinds: KindRegistry | None = None) -> None:
        self.clock = clock
        self.kinds = kinds or KindRegistry()
        self._objects: dict[ObjectKey, dict[str, Any]] = {}
        self._version = 0
        self._lock = threading.RLock()
        self._watchers: list[Watcher] = []
        for name in ("default", "kube-system"):
            self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    # ----- identity -------------------------------------------------------------------------

    def type_of(self, obj: dict[str, Any]) -> ResourceType:
        """The served type of an object (raises UnknownKindError)."""
        return self.kinds.by_kind(obj.get("apiVersion", ""), obj.get("kind", ""))

    def key_of(self, obj: dict[str, Any]) -> ObjectKey:
        """The store key of an object; namespace dropped for cluster-scoped kinds."""
        rtype = self.type_of(obj)
        metadata = obj.get("metadata") or {}
        namespace = metadata.get("namespace") or "" if rtype.namespaced else ""
        return ObjectKey(rtype.group, rtype.kind, namespace, metadata.get("name", ""))

    def _key(self, api_version: str, kind: str, namespace: str | None, name: str) -> ObjectKey:
        rtype = self.kinds.by_kind(api_version, kind)
        return ObjectKey(
            rtype.group, rtype.kind, (namespace or "") if rtype.namespaced else "", name
        )

    # ----- watching -------------------------------------------------------------------------

    def subscribe(self, watcher: Watcher) -> None:
        """Call `watcher(event, object)` on every ADDED, MODIFIED or DELETED object."""
        self._watchers.append(watcher)

    def _notify(self, event: str, obj: dict[str, Any]) -> None:
        for watcher in self._watchers:
            watcher(event, copy.deepcopy(obj))

    def _next_version(self) -> str:
        self._version += 1
        return str(self._version)

    # ----- reads ----------------------------------------------------------------------------

    def get(
        self, api_version: str, kind: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        """A copy of the object, or None."""
        with self._lock:
            found = self._objects.get(self._key(api_version, kind, namespace, name))
            return copy.deepcopy(found) if found is not None else None

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Copies of every object of a kind, optionally in one namespace and matching labels."""
        rtype = self.kinds.by_kind(api_version, kind)
        with self._lock:
            found = [
                obj
                for key, obj in self._objects.items()
                if key.group == rtype.group
                and key.kind == rtype.kind
                and (namespace is None or key.namespace == namespace)
                and labels_match(label_selector, obj)
            ]
            found.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
            return copy.deepcopy(found)

    def all_objects(self) -> list[dict[str, Any]]:
        """Copies of every stored object."""
        with self._lock:
            return copy.deepcopy(list(self._objects.values()))

    # ----- writes ---------------------------------------------------------------------------

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create an object; returns the stored copy with server-set metadata."""
        with self._lock:
            rtype = self.type_of(obj)
            new = self._admit(copy.deepcopy(obj), rtype)
            key = self.key_of(new)
            if not key.name:
                raise Invalid(f"{rtype.kind}: metadata.name: Required value")
            if key in self._objects:
                raise AlreadyExists(
                    f'{rtype.plural}.{rtype.group or "core"} "{key.name}" already exists'
                )
            if rtype.namespaced:
                namespace = self._objects.get(ObjectKey("", "Namespace", "", key.namespace))
                if namespace is None:
                    raise NotFound(f'namespaces "{key.namespace}" not found')
                if namespace["metadata"].get("deletionTimestamp"):
                    raise ApiError(
                        f"{rtype.kind} {key.name}: namespace {key.namespace} is being terminated"
                    )
                new["metadata"]["namespace"] = key.namespace
            else:
                new["metadata"].pop("namespace", None)
            metadata = new["metadata"]
            for field in _SYSTEM_METADATA:
                metadata.pop(field, None)
            metadata["uid"] = str(uuid.uuid4())
            metadata["resourceVersion"] = self._next_version()
            metadata["creationTimestamp"] = rfc3339(self.clock.now())
            if rtype.status_subresource or rtype.kind in ("Job", "CronJob"):
                metadata["generation"] = 1
            if rtype.status_subresource and not rtype.builtin:
                new.pop("status", None)  # a CR's status is written only through /status
            if rtype.kind == "CustomResourceDefinition":
                self.kinds.register_crd(new)
            self._objects[key] = new
            self._notify("ADDED", new)
            return copy.deepcopy(new)

    def update(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Replace an object's spec, labels, annotations, finalizers, ownerReferences.

        With a status subresource the status in `obj` is ignored (kept as stored); generation
        moves on only when the spec changes. A resourceVersion in `obj` must be current.
        """
        with self._lock:
            rtype = self.type_of(obj)
            current = self._current(obj)
            new = self._admit(copy.deepcopy(obj), rtype)
            metadata = new.setdefault("metadata", {})
            for field in _SYSTEM_METADATA:
                if field in current["metadata"]:
                    metadata[field] = current["metadata"][field]
                else:
                    metadata.pop(field, None)
            if rtype.namespaced:
                metadata["namespace"] = current["metadata"]["namespace"]
            if rtype.status_subresource:
                if "status" in current:
                    new["status"] = current["status"]
                else:
                    new.pop("status", None)
            if "generation" in metadata and _body(new) != _body(current):
                metadata["generation"] += 1
            return self._replace(current, new)

    def update_status(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Write only `.status` (the status subresource); generation does not move."""
        with self._lock:
            rtype = self.type_of(obj)
            current = self._current(obj)
            new = copy.deepcopy(current)
            if "status" in obj:
                new["status"] = copy.deepcopy(obj["status"])
            else:
                new.pop("status", None)
            if rtype.schema is not None:
                new = prune_resource(new, rtype.schema)
                self._validate_custom(new, rtype, only_status=True)
            return self._replace(current, new)

    def delete(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        name: str,
        uid: str | None = None,
    ) -> None:
        """Delete an object (background propagation), or mark it terminating if finalizers remain.

        `uid`, if given, is a precondition: the delete fails with Conflict when the stored object
        is another incarnation (Metacontroller deletes children with a UID precondition).
        """
        with self._lock:
            key = self._key(api_version, kind, namespace, name)
            current = self._objects.get(key)
            if current is None:
                raise NotFound(f'{kind} "{name}" not found')
            if uid is not None and current["metadata"]["uid"] != uid:
                raise Conflict(f"{kind} {name}: precondition failed: UID in precondition: {uid}")
            self._delete(key)

    def _delete(self, key: ObjectKey) -> None:
        current = self._objects[key]
        metadata = current["metadata"]
        if key.kind == "Namespace" and key.group == "":
            self._terminate_namespace(key.name)
            return
        if metadata.get("finalizers"):
            if not metadata.get("deletionTimestamp"):
                updated = copy.deepcopy(current)
                updated["metadata"]["deletionTimestamp"] = rfc3339(self.clock.now())
                self._replace(current, updated)
            return
        self._remove(key)

    def _terminate_namespace(self, namespace: str) -> None:
        # A namespace goes away only after everything in it: it carries the `kubernetes`
        # finalizer until its content is gone.
        key = ObjectKey("", "Namespace", "", namespace)
        current = self._objects[key]
        if not current["metadata"].get("deletionTimestamp"):
            updated = copy.deepcopy(current)
            updated["metadata"]["deletionTimestamp"] = rfc3339(self.clock.now())
            updated["metadata"]["finalizers"] = [
                *(current["metadata"].get("finalizers") or []),
                "kubernetes",
            ]
            updated.setdefault("status", {})["phase"] = "Terminating"
            self._replace(current, updated)
        for inner in [k for k in self._objects if k.namespace == namespace]:
            if inner in self._objects and not self._objects[inner]["metadata"].get(
                "deletionTimestamp"
            ):
                self._delete(inner)
        self._maybe_finish_namespace(namespace)

    def _maybe_finish_namespace(self, namespace: str) -> None:
        key = ObjectKey("", "Namespace", "", namespace)
        current = self._objects.get(key)
        if current is None or not current["metadata"].get("deletionTimestamp"):
            return
        if any(k.namespace == namespace for k in self._objects):
            return
        finalizers = [f for f in current["metadata"].get("finalizers") or [] if f != "kubernetes"]
        updated = copy.deepcopy(current)
        updated["metadata"]["finalizers"] = finalizers
        self._replace(current, updated)

    def _remove(self, key: ObjectKey) -> None:
        removed = self._objects.pop(key)
        removed["metadata"]["resourceVersion"] = self._next_version()
        self._notify("DELETED", removed)
        self._collect_garbage(removed["metadata"]["uid"])
        if key.namespace:
            self._maybe_finish_namespace(key.namespace)

    def _collect_garbage(self, owner_uid: str) -> None:
        # Background propagation: dependents whose every owner is gone are deleted; a dangling
        # reference next to a live owner is dropped. blockOwnerDeletion only matters for
        # foreground deletion, which this stand-in (like Metacontroller) never asks for.
        live_uids = {o["metadata"]["uid"] for o in self._objects.values()}
        for key, obj in list(self._objects.items()):
            refs = obj["metadata"].get("ownerReferences") or []
            if not any(r.get("uid") == owner_uid for r in refs):
                continue
            if key not in self._objects:
                continue
            remaining = [r for r in refs if r.get("uid") in live_uids]
            if remaining:
                updated = copy.deepcopy(obj)
                updated["metadata"]["ownerReferences"] = remaining
                self._replace(obj, updated)
            elif not obj["metadata"].get("deletionTimestamp"):
                self._delete(key)

    # ----- helpers --------------------------------------------------------------------------

    def _current(self, obj: dict[str, Any]) -> dict[str, Any]:
        key = self.key_of(obj)
        current = self._objects.get(key)
        if current is None:
            raise NotFound(f'{key.kind} "{key.name}" not found')
        wanted = (obj.get("metadata") or {}).get("resourceVersion")
        if wanted and wanted != current["metadata"]["resourceVersion"]:
            raise Conflict(
                f'Operation cannot be fulfilled on {key.kind} "{key.name}": the object has been '
                "modified; please apply your changes to the latest version and try again"
            )
        return current

    def _replace(self, current: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        key = self.key_of(current)
        if new == current:
            return copy.deepcopy(current)
        new["metadata"]["resourceVersion"] = self._next_version()
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            self._objects[key] = new
            self._remove(key)
            return copy.deepcopy(new)
        self._objects[key] = new
        self._notify("MODIFIED", new)
        return copy.deepcopy(new)

    def _admit(self, obj: dict[str, Any], rtype: ResourceType) -> dict[str, Any]:
        """What admission does to a write: Secret stringData, pruning, validation."""
        obj.setdefault("metadata", {})
        if rtype.kind == "Secret" and rtype.group == "":
            obj = _fold_string_data(obj)
        if rtype.builtin:
            _validate_builtin(obj)
            return obj
        if rtype.schema is not None:
            obj = prune_resource(obj, rtype.schema)
            self._validate_custom(obj, rtype, only_status=False)
        return obj

    def _validate_custom(self, obj: dict[str, Any], rtype: ResourceType, only_status: bool) -> None:
        schema = rtype.schema or {}
        properties = schema.get("properties") or {}
        parts: Iterable[str] = (
            ("status",)
            if only_status
            else [k for k in obj if k not in ("apiVersion", "kind", "metadata", "status")]
        )
        problems = []
        for part in parts:
            if part in obj and part in properties:
                problems += schema_errors(obj[part], properties[part], part)
        if problems:
            name = obj.get("metadata", {}).get("name", "")
            raise Invalid(f'{rtype.kind}.{rtype.group} "{name}" is invalid: ' + "; ".join(problems))


def _fold_string_data(secret: dict[str, Any]) -> dict[str, Any]:
    """The API server moves `stringData` into base64 `data`."""
    string_data = secret.pop("stringData", None) or {}
    data = dict(secret.get("data") or {})
    for name, value in string_data.items():
        data[name] = base64.b64encode(str(value).encode()).decode()
    if data:
        secret["data"] = data
    return secret


def _validate_builtin(obj: dict[str, Any]) -> None:
    """Reject what a real API server would reject, using the official OpenAPI schemas."""
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        where = ".".join(str(p) for p in error.path) or "(root)"
        name = obj.get("metadata", {}).get("name", "")
        raise Invalid(f'{obj.get("kind")} "{name}" is invalid: {where}: {error.message}') from None
    except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError):
        return  # kinds without a published schema (metacontroller's) are taken as they are
