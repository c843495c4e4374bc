"""Metacontroller webhook wire protocol: parse requests, build strict-mode responses.

Composite (``parent``/``children``) and decorator (``object``/``attachments``) requests are
parsed into one ``SyncRequest``. Objects are indexed by what they say about themselves
(``metadata.namespace``/``metadata.name``) rather than by the map key, because the key style
differs between hook versions (v1 ``name``, v2 ``namespace/name``) and Metacontroller releases
before v4.15 send v1-shaped keys even to v2 hooks.
"""

from __future__ import annotations

import functools
import itertools
import json
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import orjson

from hooks import related as related_objects

LAST_APPLIED_ANNOTATION = "metacontroller.k8s.io/last-applied-configuration"
DECORATOR_ANNOTATION = "metacontroller.k8s.io/decorator-controller"

COMPOSITE_RESPONSE_KEYS = ("status", "children", "resyncAfterSeconds", "finalized")
DECORATOR_RESPONSE_KEYS = (
    "labels",
    "annotations",
    "status",
    "attachments",
    "resyncAfterSeconds",
    "finalized",
)
CUSTOMIZE_RESPONSE_KEYS = ("relatedResources",)


# Decoded JSON is made of plain dicts: ``type(x) is dict`` is tested before
# ``isinstance(x, Mapping)``, an abc check that takes seven times as long (a sync makes about
# a hundred of them); other Mappings are still accepted.

# Why an object may not be read (it names the object and the field), or None: called with the
# kind and apiVersion of its group, the object and its (namespace, name).
Admission = Callable[[str, str, Mapping[str, Any], tuple[str, str]], str | None]


class InvalidRequest(ValueError):
    """The request body is not a Metacontroller hook request (a protocol error, not user input)."""


# orjson reads an integer literal beyond the 64-bit range as a float, silently; such a literal
# has at least 19 digits in a row (-9223372036854775809), so text with a run that long is read
# by the standard library instead, which keeps every integer an int. translate+find is a C
# scan (~40 µs for a 42 KB body); a regular expression for the run takes ten times longer.
_DIGITS_AS_ZERO = bytes(0 if 0x30 <= byte <= 0x39 else 1 for byte in range(256))
_LONG_DIGIT_RUN = bytes(19)


def decode_json(data: bytes | str) -> Any:
    """JSON text to Python values, as ``json.loads`` reads it (ints stay ints), only faster.

    orjson does the work; text it refuses or may read differently from the standard library
    (NaN, non-UTF-8 encodings, integers beyond 64 bits) goes to ``json.loads``. Raises
    ``ValueError`` for text that is not JSON.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if raw.translate(_DIGITS_AS_ZERO).find(_LONG_DIGIT_RUN) < 0:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)


def json_thawer(text: bytes) -> Callable[[], Any]:
    """A function giving a new value of the JSON ``text`` on each call, read as ``decode_json``
    reads it; raises ``ValueError`` now for text that is not JSON.

    For text kept in a cache and read on many calls: whether ``orjson.loads`` reads it as the
    standard library does is settled here once, not on every read (the digit scan and the
    attempt cost as much as a third of reading a CronJob's text).
    """
    if text.translate(_DIGITS_AS_ZERO).find(_LONG_DIGIT_RUN) < 0:
        try:
            orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
        else:
            return functools.partial(orjson.loads, text)
    decode_json(text)
    return functools.partial(decode_json, text)


def encode_json(body: Any) -> bytes:
    """Compact JSON with keys sorted: equal values give byte-identical text (no update loops).

    orjson writes UTF-8 and integers as integers; values it cannot write (integers beyond
    64 bits, non-string keys) are written by the standard library, so the choice depends on
    the value alone and the bytes stay stable.
    """
    try:
        return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def group_key(kind: str, api_version: str) -> str:
    """Metacontroller's map key for a kind: ``<Kind>.<apiVersion>`` (e.g. ``Job.batch/v1``)."""
    return f"{kind}.{api_version}"


@dataclass(frozen=True)
class ObjectIndex:
    """Observed objects grouped by kind, addressable by (namespace, name).

    ``default_namespace`` is the parent's namespace: ``get`` without a namespace looks there
    first, then among cluster-scoped objects. Objects an admission check refused are not in
    ``groups`` (``get`` and ``list`` never return them); ``rejected`` says why, per object.
    """

    groups: Mapping[str, Mapping[tuple[str, str], dict[str, Any]]] = field(default_factory=dict)
    default_namespace: str = ""
    rejected: Mapping[str, Mapping[tuple[str, str], str]] = field(default_factory=dict)

    @classmethod
    def from_wire(
        cls,
        raw: Any,
        default_namespace: str = "",
        what: str = "children",
        admit: Admission | None = None,
    ) -> ObjectIndex:
        """Index a ``children``/``related``/``attachments`` map from a request body; with
        ``admit``, objects it finds a problem with are set aside in ``rejected``."""
        if raw is None:
            return cls({}, default_namespace)
        if type(raw) is not dict and not isinstance(raw, Mapping):
            raise InvalidRequest(f"{what}: expected an object keyed by Kind.apiVersion")
        groups: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
        rejected: dict[str, dict[tuple[str, str], str]] = {}
        for key, objects in raw.items():
            if objects is None:
                groups[key] = {}
                continue
            if type(objects) is not dict and not isinstance(objects, Mapping):
                raise InvalidRequest(f"{what}[{key!r}]: expected an object keyed by name")
            group: dict[tuple[str, str], dict[str, Any]] = {}
            kind, api_version = _split_key(key)
            for wire_name, obj in objects.items():
                if type(obj) is not dict and not isinstance(obj, Mapping):
                    raise InvalidRequest(f"{what}[{key!r}][{wire_name!r}]: expected an object")
                address = _address(obj, wire_name, default_namespace)
                why = admit(kind, api_version, obj, address) if admit is not None else None
                if why is None:
                    group[address] = dict(obj)
                else:
                    rejected.setdefault(key, {})[address] = why
            groups[key] = group
        return cls(groups, default_namespace, rejected)

    def list(self, kind: str, api_version: str) -> list[dict[str, Any]]:
        """All objects of a kind, sorted by (namespace, name)."""
        group = self.groups.get(group_key(kind, api_version), {})
        return [group[address] for address in sorted(group)]

    def get(
        self, kind: str, api_version: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        """One object by name; ``namespace=None`` means the parent's namespace or cluster scope."""
        group = self.groups.get(group_key(kind, api_version), {})
        if namespace is not None:
            return group.get((namespace, name))
        return group.get((self.default_namespace, name)) or group.get(("", name))

    def rejection(
        self, kind: str, api_version: str, name: str, namespace: str | None = None
    ) -> str | None:
        """Why an object that was sent cannot be read (it names the object and the field), or
        None when it was not sent or is readable; addressed as in ``get``."""
        group = self.rejected.get(group_key(kind, api_version), {})
        if namespace is not None:
            return group.get((namespace, name))
        return group.get((self.default_namespace, name)) or group.get(("", name))

    def missing(self, kind: str, api_version: str, name: str, namespace: str | None = None) -> str:
        """Why ``get`` found nothing: the rejection, else ``Kind namespace/name not found``."""
        found = self.rejection(kind, api_version, name, namespace)
        if found is not None:
            return found
        shown = self.default_namespace if namespace is None else namespace
        return f"{related_objects.where(kind, shown, name)} not found"

    def all(self) -> list[dict[str, Any]]:
        """Every object of every kind, in a stable order."""
        return [obj for key in sorted(self.groups) for obj in self.list(*_split_key(key))]


def _split_key(key: str) -> tuple[str, str]:
    kind, _, api_version = key.partition(".")
    return kind, api_version


def _address(obj: Mapping[str, Any], wire_name: str, default_namespace: str) -> tuple[str, str]:
    metadata = obj.get("metadata")
    if type(metadata) is not dict and not isinstance(metadata, Mapping):
        metadata = {}  # a malformed object is still addressed by its wire key
    name = metadata.get("name")
    namespace = metadata.get("namespace")
    if name is None:
        # Fall back to the key: "namespace/name" (v2) or "name" (v1, parent's namespace).
        ns_part, sep, name_part = wire_name.rpartition("/")
        name = name_part
        namespace = ns_part if sep else namespace
    if namespace is None:
        namespace = "" if "/" not in wire_name else wire_name.rpartition("/")[0]
    return str(namespace), str(name)


@dataclass(frozen=True)
class SyncRequest:
    """One hook call, composite or decorator, sync, finalize or customize."""

    controller: dict[str, Any]
    parent: dict[str, Any]
    children: ObjectIndex
    related: ObjectIndex
    finalizing: bool
    version: str

    @property
    def is_decorator(self) -> bool:
        """True when the request came from a DecoratorController."""
        return self.controller.get("kind") == "DecoratorController"

    # Read for nearly every field of every child (a sync asks for them about a hundred times);
    # the parent is not changed once the request is parsed, so they are worked out once.
    @cached_property
    def namespace(self) -> str:
        """The parent's namespace ('' for cluster-scoped parents)."""
        return str((self.parent.get("metadata") or {}).get("namespace") or "")

    @cached_property
    def name(self) -> str:
        """The parent's name."""
        return str((self.parent.get("metadata") or {}).get("name") or "")

    @property
    def generation(self) -> int:
        """The parent's metadata.generation (0 when absent)."""
        return int((self.parent.get("metadata") or {}).get("generation") or 0)

    @property
    def observed_status(self) -> dict[str, Any]:
        """The parent's current status (what the previous sync wrote)."""
        status = self.parent.get("status")
        return dict(status) if type(status) is dict or isinstance(status, Mapping) else {}


def hook_version(controller: Mapping[str, Any]) -> str:
    """The sync hook's protocol version as configured on the controller (default v1)."""
    hooks = ((controller.get("spec") or {}).get("hooks")) or {}
    sync = hooks.get("sync") or {}
    version = sync.get("version") or "v1"
    return str(version)


def parse_request(body: Any) -> SyncRequest:
    """Parse a decoded JSON request body of any hook type into a ``SyncRequest``."""
    if type(body) is not dict and not isinstance(body, Mapping):
        raise InvalidRequest("request body must be a JSON object")
    controller = body.get("controller")
    if type(controller) is not dict and not isinstance(controller, Mapping):
        raise InvalidRequest("request.controller: missing or not an object")
    parent = body.get("parent", body.get("object"))
    if type(parent) is not dict and not isinstance(parent, Mapping):
        raise InvalidRequest("request.parent (or request.object): missing or not an object")
    namespace = str((parent.get("metadata") or {}).get("namespace") or "")
    children_raw = body.get("children", body.get("attachments"))
    return SyncRequest(
        controller=dict(controller),
        parent=dict(parent),
        children=ObjectIndex.from_wire(children_raw, namespace, "children"),
        # Related objects are other people's input: those of a wrong shape are set aside.
        related=ObjectIndex.from_wire(
            body.get("related"), namespace, "related", admit=related_objects.problem
        ),
        finalizing=bool(body.get("finalizing", False)),
        version=hook_version(controller),
    )


def _object_order(obj: Mapping[str, Any]) -> tuple[str, str, str, str]:
    metadata = obj.get("metadata") or {}
    return (
        str(obj.get("apiVersion", "")),
        str(obj.get("kind", "")),
        str(metadata.get("namespace") or ""),
        str(metadata.get("name") or ""),
    )


def sorted_objects(objects: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Objects in a stable order (apiVersion, kind, namespace, name), duplicates rejected."""
    keyed = sorted(((_object_order(o), dict(o)) for o in objects), key=operator.itemgetter(0))
    for (previous, _), (current, _) in itertools.pairwise(keyed):
        if previous == current:
            raise ValueError(f"duplicate desired object {current}")
    return [obj for _, obj in keyed]


def composite_response(
    status: Mapping[str, Any],
    children: Iterable[Mapping[str, Any]],
    resync_after_seconds: float | None = None,
    finalized: bool | None = None,
) -> dict[str, Any]:
    """A CompositeController sync/finalize response with only strict-mode keys."""
    response: dict[str, Any] = {"status": dict(status), "children": sorted_objects(children)}
    if resync_after_seconds is not None:
        response["resyncAfterSeconds"] = _number(resync_after_seconds)
    if finalized is not None:
        response["finalized"] = bool(finalized)
    return response


def decorator_response(
    attachments: Iterable[Mapping[str, Any]],
    labels: Mapping[str, str | None] | None = None,
    annotations: Mapping[str, str | None] | None = None,
    status: Mapping[str, Any] | None = None,
    resync_after_seconds: float | None = None,
    finalized: bool | None = None,
) -> dict[str, Any]:
    """A DecoratorController sync/finalize response with only strict-mode keys.

    ``status=None`` leaves the target's status untouched (decorator semantics).
    """
    response: dict[str, Any] = {"attachments": sorted_objects(attachments)}
    if labels is not None:
        response["labels"] = dict(labels)
    if annotations is not None:
        response["annotations"] = dict(annotations)
    response["status"] = dict(status) if status is not None else None
    if resync_after_seconds is not None:
        response["resyncAfterSeconds"] = _number(resync_after_seconds)
    if finalized is not None:
        response["finalized"] = bool(finalized)
    return response


def customize_response(related_resources: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A customize response; rules keep their given order (it is meaningful to no one, but
    stable because callers build it deterministically)."""
    return {"relatedResources": [dict(rule) for rule in related_resources]}


def related_rule(
    api_version: str,
    resource: str,
    *,
    namespace: str | None = None,
    names: Iterable[str] | None = None,
    match_labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One ``relatedResources`` rule: by names (optionally in a namespace) or by labels.

    With neither names nor labels every object is selected (``labelSelector: {}``).
    """
    rule: dict[str, Any] = {"apiVersion": api_version, "resource": resource}
    if namespace is not None:
        rule["namespace"] = namespace
    if names is not None:
        rule["names"] = sorted(set(names))
    else:
        rule["labelSelector"] = {"matchLabels": dict(sorted((match_labels or {}).items()))}
    return rule


def _number(value: float) -> int | float:
    """Integral numbers as ints (a float 30.0 would be re-encoded and compared as changed)."""
    return int(value) if float(value).is_integer() else float(value)


def as_desired(observed: Mapping[str, Any]) -> dict[str, Any]:
    """What we last asked for, for an observed child: keeps it unchanged when re-sent.

    Metacontroller records the applied object in the last-applied annotation; re-sending
    exactly that is a no-op. Children it did not create (adopted ones) are reduced to the
    fields a creator owns (no status, no server-filled metadata).
    """
    metadata = observed.get("metadata") or {}
    annotation = (metadata.get("annotations") or {}).get(LAST_APPLIED_ANNOTATION)
    if annotation:
        try:
            applied = decode_json(annotation)
        except (ValueError, RecursionError):
            applied = None
        if isinstance(applied, dict) and applied.get("kind") and applied.get("apiVersion"):
            return applied
    kept_metadata: dict[str, Any] = {"name": metadata.get("name")}
    if metadata.get("namespace"):
        kept_metadata["namespace"] = metadata["namespace"]
    if metadata.get("labels"):
        kept_metadata["labels"] = dict(metadata["labels"])
    annotations = {
        k: v
        for k, v in (metadata.get("annotations") or {}).items()
        if not k.startswith("metacontroller.k8s.io/")
        and k != "kubectl.kubernetes.io/last-applied-configuration"
    }
    if annotations:
        kept_metadata["annotations"] = annotations
    desired = {key: value for key, value in observed.items() if key not in ("metadata", "status")}
    desired["metadata"] = kept_metadata
    return desired


def observed_as_desired(index: ObjectIndex) -> list[dict[str, Any]]:
    """Every observed child in its desired form: the way to keep all children unchanged."""
    return [as_desired(obj) for obj in index.all()]
