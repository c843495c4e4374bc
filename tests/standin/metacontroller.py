"""The Metacontroller loop: level-triggered syncs of every parent through the real hooks over HTTP.

It follows the protocol reference (shared/reference/metacontroller-protocol.md): customize →
sync/finalize with v1/v2 bodies, strict decoding, children applied with Metacontroller's rules,
status replaced with observedGeneration injected, finalizers, resyncs, retries with backoff. It
also refuses what would hot-loop on a real cluster (a status field the CRD would prune, a hook
that answers differently to an identical request, a status that never settles) by raising
ProtocolViolation, so tests see it at once.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tests.standin.apply import apply, with_last_applied
from tests.standin.clock import Clock
from tests.standin.controllers import ChildType, Controller, load_controller
from tests.standin.kinds import ResourceType, UnknownKindError
from tests.standin.pruning import dropped_paths, prune, schema_errors
from tests.standin.related import RelatedRuleError, check_rule, gather_related, object_key
from tests.standin.selectors import annotations_match, labels_match
from tests.standin.store import AlreadyExists, ApiError, NotFound, ObjectKey, Store
from tests.standin.webhook import (
    COMPOSITE_RESPONSE_FIELDS,
    CUSTOMIZE_RESPONSE_FIELDS,
    DECORATOR_RESPONSE_FIELDS,
    HookError,
    RetryLater,
    call_hook,
    decode_response,
)

DECORATOR_ANNOTATION = "metacontroller.k8s.io/decorator-controller"
# client-go's DefaultControllerRateLimiter: per item 5 ms doubling up to 1000 s.
_BACKOFF_BASE_SECONDS = 0.005
_BACKOFF_MAX_SECONDS = 1000.0
# Syncs in a row that rewrite the status although nothing but that status changed.
_UNSETTLED_STATUS_LIMIT = 5


class ProtocolViolation(Exception):
    """Something that would hot-loop or be rejected on a real cluster; tests must not pass it."""


class SyncError(Exception):
    """One failed sync (Metacontroller's `Warning SyncError` event); retried with backoff."""


@dataclass(frozen=True)
class WorkItem:
    """A (controller, object) pair in the queue."""

    controller: str
    key: ObjectKey


@dataclass
class _History:
    """Per-parent memory used to detect hot loops."""

    responses: OrderedDict[str, str]
    last_input_without_status: str = ""
    unsettled_status_writes: int = 0


def _fingerprint(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _controller_ref(obj: dict[str, Any]) -> dict[str, Any] | None:
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    return next((r for r in refs if r.get("controller")), None)


def _integral_floats(value: Any, path: str) -> list[str]:
    """Paths of floats with integral values (`2.0`): they never DeepEqual the API's ints."""
    if isinstance(value, float) and value.is_integer():
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _integral_floats(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _integral_floats(v, f"{path}[{i}]")]
    return []


class Metacontroller:
    """Runs every loaded controller against the store, one queued item at a time."""

    def __init__(self, store: Store, clock: Clock, hooks_base_url: str) -> None:
        self.store = store
        self.clock = clock
        self.hooks_base_url = hooks_base_url
        self.controllers: dict[str, Controller] = {}
        self.sync_errors: list[str] = []
        self.hook_calls = 0
        self._queue: dict[WorkItem, datetime] = {}
        self._failures: dict[WorkItem, int] = {}
        self._customize_cache: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
        self._related_rules: dict[WorkItem, tuple[str, list[dict[str, Any]]]] = {}
        self._history: dict[tuple[str, str], _History] = {}
        self._next_resync: dict[str, datetime] = {}
        self._held: set[str] = set()
        self._lock = threading.RLock()
        store.subscribe(self._on_event)

    # ----- setup ----------------------------------------------------------------------------

    def load(self, manifest: dict[str, Any]) -> Controller:
        """Start running a CompositeController/DecoratorController (also stored as an object)."""
        controller = load_controller(manifest, self.store.kinds, self.hooks_base_url)
        for target in controller.targets:
            if not target.rtype.status_subresource and not controller.is_decorator:
                raise ProtocolViolation(
                    f"CompositeController {controller.name}: parent resource "
                    f"{target.rtype.plural} does not have subresource 'Status' enabled"
                )
        with self._lock:
            self.controllers[controller.name] = controller
            if controller.resync_period:
                self._next_resync[controller.name] = self.clock.now()
        for target in controller.targets:
            for obj in self.store.list(target.rtype.api_version, target.rtype.kind):
                self._enqueue(WorkItem(controller.name, self.store.key_of(obj)))
        return controller

    # ----- queue ----------------------------------------------------------------------------

    def _enqueue(self, item: WorkItem, delay: float = 0.0) -> None:
        due = self.clock.now() + timedelta(seconds=delay)
        with self._lock:
            current = self._queue.get(item)
            if current is None or due < current:
                self._queue[item] = due

    def _on_event(self, event: str, obj: dict[str, Any]) -> None:
        """Level triggering: any change enqueues every parent it concerns."""
        try:
            rtype = self.store.type_of(obj)
        except UnknownKindError:
            return
        key = self.store.key_of(obj)
        with self._lock:
            controllers = list(self.controllers.values())
            related = list(self._related_rules.items())
        for controller in controllers:
            if any(
                t.rtype.kind == rtype.kind and t.rtype.group == rtype.group
                for t in controller.targets
            ):
                self._enqueue(WorkItem(controller.name, key))
            if any(
                c.rtype.kind == rtype.kind and c.rtype.group == rtype.group
                for c in controller.children
            ):
                self._enqueue_owner(controller, obj)
        for item, (version, rules) in related:
            if self._concerns(rules, rtype, obj, item, version):
                self._enqueue(item)

    def _enqueue_owner(self, controller: Controller, child: dict[str, Any]) -> None:
        ref = _controller_ref(child)
        namespace = child["metadata"].get("namespace", "")
        for target in controller.targets:
            if ref is not None:
                if ref.get("kind") == target.rtype.kind:
                    ns = namespace if target.rtype.namespaced else ""
                    self._enqueue(
                        WorkItem(
                            controller.name,
                            ObjectKey(target.rtype.group, target.rtype.kind, ns, ref["name"]),
                        )
                    )
            elif not controller.is_decorator:
                # an orphan: every parent that might adopt it takes a look
                for parent in self.store.list(
                    target.rtype.api_version, target.rtype.kind, namespace or None
                ):
                    self._enqueue(WorkItem(controller.name, self.store.key_of(parent)))

    def _concerns(
        self,
        rules: list[dict[str, Any]],
        rtype: ResourceType,
        obj: dict[str, Any],
        item: WorkItem,
        version: str,
    ) -> bool:
        from tests.standin.related import rule_matches

        for rule in rules:
            try:
                rule_type = self.store.kinds.by_resource(rule["apiVersion"], rule["resource"])
            except UnknownKindError:
                continue
            if rule_type.kind != rtype.kind or rule_type.group != rtype.group:
                continue
            if (
                (
                    rtype.namespaced
                    and not rule.get("namespace")
                    and rule.get("namespaceSelector") is None
                )
                and version == "v1"
                and item.key.namespace
                and obj["metadata"].get("namespace") != item.key.namespace
            ):
                continue
            # namespace labels are not needed to decide whether to look again: over-enqueueing
            # only costs a sync, missing one would lose a trigger
            if rule.get("namespaceSelector") is not None or rule_matches(
                rule, rtype, obj, item.key.namespace, version, {}
            ):
                return True
        return False

    def hold(self, controller_name: str) -> None:
        """Stop syncing one controller's parents while its queue keeps filling: a controller
        whose workers lag behind the others. `release` lets the queued syncs run."""
        if controller_name not in self.controllers:
            raise KeyError(f"no controller named {controller_name!r} is loaded")
        with self._lock:
            self._held.add(controller_name)

    def release(self, controller_name: str) -> None:
        """Let a held controller sync again; everything queued for it meanwhile is due."""
        with self._lock:
            self._held.discard(controller_name)

    def next_due(self) -> datetime | None:
        """When the earliest queued item or periodic resync of a running controller is due."""
        with self._lock:
            times = [t for i, t in self._queue.items() if i.controller not in self._held]
            times += [t for n, t in self._next_resync.items() if n not in self._held]
        return min(times) if times else None

    def pending(self) -> int:
        """Items queued now or later."""
        with self._lock:
            return len(self._queue)

    def process_due(self) -> int:
        """Sync every item that is due now; returns how many were synced."""
        now = self.clock.now()
        self._periodic_resyncs(now)
        with self._lock:
            due = sorted(
                (
                    item
                    for item, when in self._queue.items()
                    if when <= now and item.controller not in self._held
                ),
                key=lambda i: (self._queue[i], i.controller, str(i.key)),
            )
            for item in due:
                del self._queue[item]
        for item in due:
            self._process(item)
        return len(due)

    def _periodic_resyncs(self, now: datetime) -> None:
        with self._lock:
            resyncs = [n for n, when in self._next_resync.items() if when <= now]
        for name in resyncs:
            controller = self.controllers[name]
            assert controller.resync_period is not None
            with self._lock:
                self._next_resync[name] = now + timedelta(seconds=controller.resync_period)
            for target in controller.targets:
                for obj in self.store.list(target.rtype.api_version, target.rtype.kind):
                    self._enqueue(WorkItem(name, self.store.key_of(obj)))

    def _process(self, item: WorkItem) -> None:
        controller = self.controllers[item.controller]
        try:
            resync_after = (
                self._sync_decorator(controller, item)
                if controller.is_decorator
                else self._sync_composite(controller, item)
            )
        except RetryLater as later:
            self._enqueue(item, later.seconds)
            return
        except (HookError, SyncError, ApiError, RelatedRuleError, UnknownKindError) as error:
            failures = self._failures.get(item, 0)
            self._failures[item] = failures + 1
            message = f"{controller.kind} {controller.name}: {item.key}: Sync error: {error}"
            self.sync_errors.append(message)
            delay = min(_BACKOFF_BASE_SECONDS * 2**failures, _BACKOFF_MAX_SECONDS)
            self._enqueue(item, delay)
            return
        self._failures.pop(item, None)
        if resync_after and resync_after > 0:
            self._enqueue(item, resync_after)

    # ----- hooks ----------------------------------------------------------------------------

    def _call(
        self, controller: Controller, hook_name: str, body: dict[str, Any], allowed: frozenset[str]
    ) -> dict[str, Any]:
        hook = controller.hooks[hook_name]
        self.hook_calls += 1
        raw = call_hook(hook.url, body, hook.timeout)
        kind = "customize" if hook_name == "customize" else "sync"
        return decode_response(raw, allowed, hook.version, hook.strict, kind)

    def _related(
        self,
        controller: Controller,
        parent: dict[str, Any],
        parent_ns: str,
        version: str,
        item: WorkItem,
    ) -> dict[str, Any]:
        if "customize" not in controller.hooks:
            with self._lock:
                self._related_rules.pop(item, None)
            return {}
        metadata = parent["metadata"]
        cache_key = (controller.name, metadata["uid"], int(metadata.get("generation") or 0))
        rules = self._customize_cache.get(cache_key)
        if rules is None:
            response = self._call(
                controller,
                "customize",
                {"controller": controller.manifest, "parent": parent},
                CUSTOMIZE_RESPONSE_FIELDS,
            )
            raw_rules = response.get("relatedResources") or []
            if not isinstance(raw_rules, list):
                raise HookError("customize response: relatedResources must be a list")
            rules = [check_rule(r, i) for i, r in enumerate(raw_rules)]
            self._customize_cache[cache_key] = rules
        with self._lock:
            self._related_rules[item] = (version, rules)
        return gather_related(self.store, self.store.kinds, rules, parent_ns, version)

    # ----- composite ------------------------------------------------------------------------

    def _sync_composite(self, controller: Controller, item: WorkItem) -> float | None:
        target = controller.targets[0]
        parent = self.store.get(
            target.rtype.api_version, target.rtype.kind, item.key.namespace, item.key.name
        )
        if parent is None:
            self._forget(controller, item)
            return None
        metadata = parent["metadata"]
        finalize = "finalize" in controller.hooks
        deleting = bool(metadata.get("deletionTimestamp"))
        matching = labels_match(target.label_selector, parent)
        has_finalizer = controller.finalizer in (metadata.get("finalizers") or [])
        if not matching and not has_finalizer:
            return None
        if finalize and matching and not deleting and not has_finalizer:
            parent["metadata"]["finalizers"] = [
                *(metadata.get("finalizers") or []),
                controller.finalizer,
            ]
            parent = self.store.update(parent)
            metadata = parent["metadata"]
        finalizing = finalize and (deleting or not matching)
        if (
            finalizing
            and not has_finalizer
            and controller.finalizer not in (metadata.get("finalizers") or [])
        ):
            return None  # already finalized; the object is on its way out
        parent_ns = metadata.get("namespace", "") if target.rtype.namespaced else ""
        hook = controller.hooks["finalize" if finalizing else "sync"]
        selector = self._selector(controller, parent)
        observed = self._claim_children(controller, parent, parent_ns, selector, hook.version)
        related = self._related(controller, parent, parent_ns, hook.version, item)
        body = {
            "controller": controller.manifest,
            "parent": parent,
            "children": observed,
            "related": related,
            "finalizing": finalizing,
        }
        response = self._call(
            controller, "finalize" if finalizing else "sync", body, COMPOSITE_RESPONSE_FIELDS
        )
        self._check_pure(controller, parent, body, response)
        errors: list[str] = []
        manage = not deleting or finalizing
        if manage:
            errors += self._manage_children(
                controller, parent, parent_ns, observed, response.get("children"), selector
            )
        self._write_composite_status(controller, target.rtype, parent, response, body)
        if finalizing and response.get("finalized") is True:
            self._remove_finalizer(controller, target.rtype, item)
        if errors:
            raise SyncError("; ".join(errors))
        return response.get("resyncAfterSeconds")

    def _selector(self, controller: Controller, parent: dict[str, Any]) -> dict[str, Any]:
        if controller.generate_selector:
            return {"matchLabels": {"controller-uid": parent["metadata"]["uid"]}}
        selector = (parent.get("spec") or {}).get("selector") or {}
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            raise SyncError(
                ".spec.selector must have either matchLabels, matchExpressions, or both"
            )
        return selector

    def _children_of_type(self, child: ChildType, parent_ns: str) -> list[dict[str, Any]]:
        return self.store.list(child.rtype.api_version, child.rtype.kind, parent_ns or None)

    def _claim_children(
        self,
        controller: Controller,
        parent: dict[str, Any],
        parent_ns: str,
        selector: dict[str, Any],
        version: str,
    ) -> dict[str, dict[str, Any]]:
        """Observed children per type, adopting matching orphans and releasing non-matching ones."""
        uid = parent["metadata"]["uid"]
        deleting = bool(parent["metadata"].get("deletionTimestamp"))
        observed: dict[str, dict[str, Any]] = {}
        for child in controller.children:
            bucket = observed.setdefault(child.rtype.key, {})
            for obj in self._children_of_type(child, parent_ns):
                ref = _controller_ref(obj)
                matches = labels_match(selector, obj)
                if ref is not None and ref.get("uid") == uid:
                    if not matches:
                        self._release(obj, uid)
                        continue
                elif ref is None and matches and not deleting:
                    obj = self._adopt(obj, parent)
                    if obj is None:
                        continue
                else:
                    continue
                bucket[object_key(obj, child.rtype, version, parent_ns)] = (
                    self._with_declared_version(obj, child)
                )
        return observed

    @staticmethod
    def _with_declared_version(obj: dict[str, Any], child: ChildType) -> dict[str, Any]:
        obj["apiVersion"] = child.rtype.api_version
        return obj

    def _release(self, obj: dict[str, Any], uid: str) -> None:
        obj["metadata"]["ownerReferences"] = [
            r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") != uid
        ]
        with contextlib.suppress(NotFound, ApiError):
            self.store.update(obj)

    def _adopt(self, obj: dict[str, Any], parent: dict[str, Any]) -> dict[str, Any] | None:
        obj["metadata"]["ownerReferences"] = [
            *(obj["metadata"].get("ownerReferences") or []),
            self._owner_reference(parent),
        ]
        try:
            return self.store.update(obj)
        except ApiError:
            return None

    @staticmethod
    def _owner_reference(parent: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": parent["apiVersion"],
            "kind": parent["kind"],
            "name": parent["metadata"]["name"],
            "uid": parent["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }

    def _manage_children(
        self,
        controller: Controller,
        parent: dict[str, Any],
        parent_ns: str,
        observed: dict[str, dict[str, Any]],
        desired_list: list[dict[str, Any]] | None,
        selector: dict[str, Any] | None,
        decorator: bool = False,
    ) -> list[str]:
        """Bring children to the desired list: deletes first, then creates and updates per type."""
        errors: list[str] = []
        desired: dict[str, dict[str, dict[str, Any]]] = {
            c.rtype.key: {} for c in controller.children
        }
        for index, child in enumerate(desired_list or []):
            type_key = f"{child['kind']}.{child['apiVersion']}"
            declared = controller.child_type(type_key)
            if declared is None:
                errors.append(f"children[{index}]: {type_key} is not declared by {controller.name}")
                continue
            child = copy.deepcopy(child)
            meta = child.setdefault("metadata", {})
            if declared.rtype.namespaced:
                if not meta.get("namespace"):
                    if not parent_ns:
                        errors.append(
                            f"children[{index}] {meta['name']}: metadata.namespace is required "
                            "for a cluster-scoped parent"
                        )
                        continue
                    meta["namespace"] = parent_ns
            else:
                meta.pop("namespace", None)
            if controller.generate_selector and not decorator:
                meta.setdefault("labels", {})["controller-uid"] = parent["metadata"]["uid"]
            if decorator:
                meta.setdefault("annotations", {})[DECORATOR_ANNOTATION] = controller.name
            if selector is not None and not labels_match(selector, child):
                errors.append(
                    f"labels on desired child {type_key} {meta['name']} don't match parent selector"
                )
                continue
            version = controller.hooks["sync"].version
            desired[type_key][object_key(child, declared.rtype, version, parent_ns)] = child
        for child_type in controller.children:
            wanted = desired[child_type.rtype.key]
            have = observed.get(child_type.rtype.key, {})
            for name, obj in have.items():
                if name not in wanted and not obj["metadata"].get("deletionTimestamp"):
                    errors += self._delete_child(obj)
            for name, child in wanted.items():
                if name in have:
                    errors += self._update_child(child_type, have[name], child)
                else:
                    errors += self._create_child(parent, child)
        return errors

    def _delete_child(self, obj: dict[str, Any]) -> list[str]:
        meta = obj["metadata"]
        try:
            self.store.delete(
                obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"], uid=meta["uid"]
            )
        except NotFound:
            pass
        except ApiError as error:
            return [f"can't delete {obj['kind']} {meta['name']}: {error}"]
        return []

    def _create_child(self, parent: dict[str, Any], child: dict[str, Any]) -> list[str]:
        new = with_last_applied(child)
        new["metadata"]["ownerReferences"] = [self._owner_reference(parent)]
        new.pop("status", None)
        try:
            self.store.create(new)
        except AlreadyExists:
            pass  # Metacontroller ignores a name clash with an object it does not own
        except ApiError as error:
            return [f"can't create {child['kind']} {child['metadata']['name']}: {error}"]
        return []

    def _update_child(
        self, child_type: ChildType, observed: dict[str, Any], desired: dict[str, Any]
    ) -> list[str]:
        if observed["metadata"].get("deletionTimestamp") or child_type.method == "OnDelete":
            return []
        merged = apply(observed, desired)
        if merged == observed:
            return []
        meta = observed["metadata"]
        try:
            if child_type.method == "Recreate":
                self.store.delete(
                    observed["apiVersion"],
                    observed["kind"],
                    meta.get("namespace"),
                    meta["name"],
                    uid=meta["uid"],
                )
            else:
                self.store.update(merged)
        except NotFound:
            pass
        except ApiError as error:
            return [f"can't update {observed['kind']} {meta['name']}: {error}"]
        return []

    def _write_composite_status(
        self,
        controller: Controller,
        rtype: ResourceType,
        parent: dict[str, Any],
        response: dict[str, Any],
        body: dict[str, Any],
    ) -> None:
        status = response.get("status")
        status = copy.deepcopy(status) if isinstance(status, dict) else {}
        generation = parent["metadata"].get("generation")
        if generation is not None:
            status["observedGeneration"] = generation
        where = (
            f"{rtype.kind} {parent['metadata'].get('namespace', '')}/{parent['metadata']['name']}"
        )
        self._check_status(controller, rtype, status, where)
        written = status != parent.get("status")
        self._track_settling(controller, parent, body, written, where)
        if written:
            parent["status"] = status
            with contextlib.suppress(NotFound):
                self.store.update_status(parent)

    def _check_status(
        self, controller: Controller, rtype: ResourceType, status: dict[str, Any], where: str
    ) -> None:
        floats = _integral_floats(status, "status")
        if floats:
            raise ProtocolViolation(
                f"{controller.name}: {where}: integers sent as floats at {', '.join(floats)}: "
                "they never compare equal to what the API server stores (hot loop)"
            )
        schema = rtype.status_schema
        if schema is None:
            return
        dropped = dropped_paths(status, prune(status, schema), "status")
        if dropped:
            raise ProtocolViolation(
                f"{controller.name}: {where}: the CRD status schema would prune "
                f"{', '.join(dropped)}; on a real cluster the status never settles (hot loop)"
            )
        problems = schema_errors(status, schema, "status")
        if problems:
            raise ProtocolViolation(
                f"{controller.name}: {where}: status rejected by the CRD schema: "
                + "; ".join(problems)
            )

    def _track_settling(
        self,
        controller: Controller,
        parent: dict[str, Any],
        body: dict[str, Any],
        written: bool,
        where: str,
    ) -> None:
        history = self._history_of(controller, parent)
        without_status = copy.deepcopy(body)
        without_status["parent"].pop("status", None)
        without_status["parent"]["metadata"].pop("resourceVersion", None)
        fingerprint = _fingerprint(without_status)
        if written and fingerprint == history.last_input_without_status:
            history.unsettled_status_writes += 1
        elif not written:
            history.unsettled_status_writes = 0
        history.last_input_without_status = fingerprint
        if history.unsettled_status_writes >= _UNSETTLED_STATUS_LIMIT:
            raise ProtocolViolation(
                f"{controller.name}: {where}: status rewritten "
                f"{history.unsettled_status_writes} times "
                "in a row while nothing but that status changed: it never settles (hot loop)"
            )

    def _history_of(self, controller: Controller, obj: dict[str, Any]) -> _History:
        return self._history.setdefault(
            (controller.name, obj["metadata"]["uid"]), _History(OrderedDict())
        )

    def _check_pure(
        self,
        controller: Controller,
        parent: dict[str, Any],
        body: dict[str, Any],
        response: dict[str, Any],
    ) -> None:
        """A hook must answer an identical request identically (it is a pure function)."""
        history = self._history_of(controller, parent)
        request_fp, response_fp = _fingerprint(body), _fingerprint(response)
        previous = history.responses.get(request_fp)
        if previous is not None and previous != response_fp:
            name = parent["metadata"]["name"]
            raise ProtocolViolation(
                f"{controller.name}: {parent['kind']} {name}: the hook answered an identical "
                "request differently (it is not a pure function of the request: hot loop)"
            )
        history.responses[request_fp] = response_fp
        while len(history.responses) > 64:
            history.responses.popitem(last=False)
        floats = _integral_floats(response.get("children") or [], "children")
        floats += _integral_floats(response.get("attachments") or [], "attachments")
        if floats:
            raise ProtocolViolation(
                f"{controller.name}: integers sent as floats at {', '.join(floats)}: they never "
                "compare equal to what the API server stores (endless updates)"
            )

    def _remove_finalizer(
        self, controller: Controller, rtype: ResourceType, item: WorkItem
    ) -> None:
        current = self.store.get(rtype.api_version, rtype.kind, item.key.namespace, item.key.name)
        if current is None:
            return
        finalizers = current["metadata"].get("finalizers") or []
        if controller.finalizer in finalizers:
            current["metadata"]["finalizers"] = [f for f in finalizers if f != controller.finalizer]
            self.store.update(current)

    def _forget(self, controller: Controller, item: WorkItem) -> None:
        with self._lock:
            self._related_rules.pop(item, None)
            self._failures.pop(item, None)

    # ----- decorator ------------------------------------------------------------------------

    def _decorator_target(self, controller: Controller, item: WorkItem) -> tuple[Any, Any]:
        for target in controller.targets:
            if target.rtype.kind == item.key.kind and target.rtype.group == item.key.group:
                obj = self.store.get(
                    target.rtype.api_version, target.rtype.kind, item.key.namespace, item.key.name
                )
                return target, obj
        return None, None

    def _sync_decorator(self, controller: Controller, item: WorkItem) -> float | None:
        target, obj = self._decorator_target(controller, item)
        if obj is None:
            self._forget(controller, item)
            return None
        metadata = obj["metadata"]
        matching = labels_match(target.label_selector, obj) and annotations_match(
            target.annotation_selector, obj
        )
        finalize = "finalize" in controller.hooks
        deleting = bool(metadata.get("deletionTimestamp"))
        has_finalizer = controller.finalizer in (metadata.get("finalizers") or [])
        parent_ns = metadata.get("namespace", "") if target.rtype.namespaced else ""
        observed = self._observed_attachments(controller, obj, parent_ns)
        if not matching and not has_finalizer:
            if any(observed.values()):
                # stopped matching without a finalize hook: its attachments go away
                for bucket in observed.values():
                    for attachment in bucket.values():
                        self._delete_child(attachment)
            return None
        if finalize and matching and not deleting and not has_finalizer:
            obj["metadata"]["finalizers"] = [
                *(metadata.get("finalizers") or []),
                controller.finalizer,
            ]
            obj = self.store.update(obj)
            metadata = obj["metadata"]
        finalizing = finalize and (deleting or not matching)
        hook_name = "finalize" if finalizing else "sync"
        version = controller.hooks[hook_name].version
        observed = self._observed_attachments(controller, obj, parent_ns, version)
        related = self._related(controller, obj, parent_ns, version, item)
        body = {
            "controller": controller.manifest,
            "object": obj,
            "attachments": observed,
            "related": related,
            "finalizing": finalizing,
        }
        response = self._call(controller, hook_name, body, DECORATOR_RESPONSE_FIELDS)
        self._check_pure(controller, obj, body, response)
        errors = []
        if not deleting or finalizing:
            errors = self._manage_children(
                controller,
                obj,
                parent_ns,
                observed,
                response.get("attachments"),
                None,
                decorator=True,
            )
        self._write_decorator(target.rtype, obj, response)
        if finalizing and response.get("finalized") is True:
            self._remove_finalizer(controller, target.rtype, item)
        if errors:
            raise SyncError("; ".join(errors))
        return response.get("resyncAfterSeconds")

    def _observed_attachments(
        self, controller: Controller, obj: dict[str, Any], parent_ns: str, version: str = "v2"
    ) -> dict[str, dict[str, Any]]:
        uid = obj["metadata"]["uid"]
        observed: dict[str, dict[str, Any]] = {}
        for child in controller.children:
            bucket = observed.setdefault(child.rtype.key, {})
            for candidate in self._children_of_type(child, parent_ns):
                ref = _controller_ref(candidate)
                annotations = candidate["metadata"].get("annotations") or {}
                if (
                    ref
                    and ref.get("uid") == uid
                    and annotations.get(DECORATOR_ANNOTATION) == controller.name
                ):
                    bucket[object_key(candidate, child.rtype, version, parent_ns)] = (
                        self._with_declared_version(candidate, child)
                    )
        return observed

    def _write_decorator(
        self, rtype: ResourceType, obj: dict[str, Any], response: dict[str, Any]
    ) -> None:
        """UpdateStatus, then Update of labels and annotations (nulls delete keys)."""
        status = response.get("status")
        if isinstance(status, dict) and status != obj.get("status") and rtype.status_subresource:
            obj["status"] = status
            obj = self.store.update_status(obj)
        meta = obj["metadata"]
        changed = False
        for field in ("labels", "annotations"):
            current = dict(meta.get(field) or {})
            for key, value in (response.get(field) or {}).items():
                if value is None:
                    changed |= current.pop(key, None) is not None
                elif current.get(key) != value:
                    current[key] = value
                    changed = True
            meta[field] = current
        if changed:
            meta.pop("resourceVersion", None)
            self.store.update(obj)


def load_controllers(
    metacontroller: Metacontroller, documents: list[dict[str, Any]]
) -> list[Controller]:
    """Load every controller object among `documents` (others are ignored)."""
    return [
        metacontroller.load(doc)
        for doc in documents
        if doc.get("kind") in ("CompositeController", "DecoratorController")
    ]
