"""The stand-in's Kubernetes REST API: discovery, get/list, create, update, patch, delete and
the status subresource for every kind the store serves, over plain HTTP on 127.0.0.1.

Real clients talk to it: `kubectl --server=http://127.0.0.1:PORT`, the official Python
`kubernetes` client, and `executor trigger` (its address reaches Jobs as ZKSTASH_API_SERVER,
docs/contracts.md §4). Errors are `Status` objects with the API server's reasons and codes.

Not served: watch, deletecollection, dry-run, server-side apply, the OpenAPI v2 document and
protobuf bodies (so kubectl's typed generators, `kubectl create configmap|secret …`, get 415;
`kubectl create|apply -f` send JSON and work).

OpenAPI v3 is served (paths and CRD schemas), enough for kubectl to leave field validation to
the server: `fieldValidation=Strict` rejects a custom resource's unknown fields,
`Ignore` and `Warn` prune them silently (no Warning headers).
"""

from __future__ import annotations

import json
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.standin.apiserver import discovery, openapi, tables
from tests.standin.apiserver.patches import PATCH_TYPES, PatchError, apply_patch
from tests.standin.apiserver.query import QueryError, field_predicate, label_predicate
from tests.standin.apiserver.routes import Discovery, ResourcePath, RouteError, parse_path
from tests.standin.kinds import ResourceType, UnknownKindError
from tests.standin.pruning import dropped_paths, prune_resource
from tests.standin.store import ApiError, Conflict, Invalid, NotFound, Store

# Kubernetes' generateName suffix alphabet (no vowels, no confusable digits), 5 characters.
_NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_PATCH_RETRIES = 5


class BadRequest(ApiError):
    """400: the request cannot be understood (bad JSON, selector, patch or body kind)."""

    code = 400
    reason = "BadRequest"


class MethodNotAllowed(ApiError):
    """405: the URL exists but does not take this verb."""

    code = 405
    reason = "MethodNotAllowed"


class UnsupportedMediaType(ApiError):
    """415: a body in a content type the server does not decode."""

    code = 415
    reason = "UnsupportedMediaType"


def _resource_label(rtype: ResourceType) -> str:
    return f"{rtype.plural}.{rtype.group}" if rtype.group else rtype.plural


def _status(error: ApiError, details: dict[str, Any] | None = None) -> dict[str, Any]:
    status = {**error.status(), "metadata": {}}
    if details:
        status["details"] = details
    return status


def _details(rtype: ResourceType | None, name: str) -> dict[str, Any] | None:
    if rtype is None:
        return None
    return {"name": name, "group": rtype.group, "kind": rtype.plural}


def _generated_name(prefix: str) -> str:
    return prefix + "".join(random.choice(_NAME_SUFFIX_ALPHABET) for _ in range(5))


class RestApi:
    """The request logic, apart from HTTP: (method, path, query, headers, body) → (code, JSON)."""

    def __init__(self, store: Store, server_address: str) -> None:
        self.store = store
        self.server_address = server_address

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        """Answer one request; every failure becomes a Status object."""
        split = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        rtype: ResourceType | None = None
        name = ""
        try:
            route = parse_path(split.path)
            if isinstance(route, Discovery):
                if method != "GET":
                    raise MethodNotAllowed(f"{method} is not allowed on {split.path}")
                return 200, self._discovery(route)
            rtype, name = self._type_of(route), route.name
            return self._resource(method, route, rtype, query, headers, body)
        except (RouteError, UnknownKindError) as error:
            return 404, _status(_NotFoundRoute(str(error).strip('"')))
        except (QueryError, PatchError) as error:
            return 400, _status(BadRequest(str(error)), _details(rtype, name))
        except ApiError as error:
            return error.code, _status(error, _details(rtype, name))

    # ----- discovery ------------------------------------------------------------------------

    def _discovery(self, route: Discovery) -> dict[str, Any]:
        types = self.store.kinds.all()
        if route.what == "version":
            return discovery.version_info()
        if route.what == "api":
            return discovery.api_versions(self.server_address)
        if route.what == "apis":
            return discovery.api_group_list(types)
        if route.what == "openapi":
            return openapi.root_document(types)
        if not discovery.has_group_version(types, route.group, route.version):
            gv = f"{route.group}/{route.version}" if route.group else route.version
            raise _NotFoundRoute(f"the server could not find the requested resource ({gv})")
        if route.what == "openapi-group-version":
            return openapi.group_version_document(types, route.group, route.version)
        return discovery.api_resource_list(types, route.group, route.version)

    # ----- resources ------------------------------------------------------------------------

    def _type_of(self, route: ResourcePath) -> ResourceType:
        rtype = self.store.kinds.by_resource(route.api_version, route.plural)
        if rtype.version != route.version:
            raise _NotFoundRoute(
                f'the server does not serve resource "{route.plural}" in "{route.api_version}"'
            )
        if route.namespace is not None and not rtype.namespaced:
            raise _NotFoundRoute(f"{rtype.plural} is not namespaced")
        if route.subresource and not (route.subresource == "status" and rtype.status_subresource):
            raise _NotFoundRoute(f"{rtype.plural} has no subresource {route.subresource!r}")
        return rtype

    def _resource(
        self,
        method: str,
        route: ResourcePath,
        rtype: ResourceType,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[int, Any]:
        if not route.name:
            if method == "GET":
                return 200, self._list(route, rtype, query, headers)
            if method == "POST":
                obj = self._strict(rtype, query, _decode(body, headers))
                return 201, self._create(route, rtype, obj)
            raise MethodNotAllowed(f"{method} is not served on a collection by the stand-in")
        if method == "GET":
            return 200, self._get(route, rtype, query, headers)
        if method == "PUT":
            return 200, self._replace(
                route, rtype, self._strict(rtype, query, _decode(body, headers))
            )
        if method == "PATCH":
            return 200, self._patch(route, rtype, query, headers, body)
        if method == "DELETE":
            return 200, self._delete(route, rtype, body)
        raise MethodNotAllowed(f"{method} is not allowed on {rtype.plural}/{route.name}")

    @staticmethod
    def _strict(rtype: ResourceType, query: dict[str, str], obj: Any) -> Any:
        """`fieldValidation=Strict`: a custom resource's undeclared fields are an error, not
        pruned (built-ins are validated strictly by the store in any case)."""
        if query.get("fieldValidation") != "Strict" or rtype.schema is None:
            return obj
        if not isinstance(obj, dict):
            return obj
        unknown = dropped_paths(obj, prune_resource(obj, rtype.schema))
        if unknown:
            fields = ", ".join(f'unknown field "{path}"' for path in unknown)
            raise BadRequest(
                f'{rtype.kind} in version "{rtype.version}" cannot be handled as a '
                f"{rtype.kind}: strict decoding error: {fields}"
            )
        return obj

    def _list(
        self,
        route: ResourcePath,
        rtype: ResourceType,
        query: dict[str, str],
        headers: dict[str, str],
    ) -> dict[str, Any]:
        if query.get("watch") in ("true", "1"):
            raise MethodNotAllowed("watch is not served by the stand-in")
        by_label = label_predicate(query.get("labelSelector"))
        by_field = field_predicate(query.get("fieldSelector"))
        objects = [
            obj
            for obj in self.store.list(rtype.api_version, rtype.kind, route.namespace)
            if by_label(obj) and by_field(obj)
        ]
        version = self._resource_version()
        if tables.wants_table(headers.get("accept", "")):
            return tables.table(
                rtype,
                objects,
                self.store.clock.now(),
                version,
                query.get("includeObject", "Metadata"),
            )
        return {
            "apiVersion": rtype.api_version,
            "kind": f"{rtype.kind}List",
            "metadata": {"resourceVersion": version},
            "items": objects,
        }

    def _resource_version(self) -> str:
        versions = [int(o["metadata"]["resourceVersion"]) for o in self.store.all_objects()]
        return str(max(versions, default=0))

    def _stored(self, route: ResourcePath, rtype: ResourceType) -> dict[str, Any]:
        found = self.store.get(rtype.api_version, rtype.kind, route.namespace, route.name)
        if found is None:
            raise NotFound(f'{_resource_label(rtype)} "{route.name}" not found')
        return found

    def _get(
        self,
        route: ResourcePath,
        rtype: ResourceType,
        query: dict[str, str],
        headers: dict[str, str],
    ) -> dict[str, Any]:
        found = self._stored(route, rtype)
        if tables.wants_table(headers.get("accept", "")):
            return tables.table(
                rtype,
                [found],
                self.store.clock.now(),
                found["metadata"]["resourceVersion"],
                query.get("includeObject", "Metadata"),
            )
        return found

    def _check_body(self, route: ResourcePath, rtype: ResourceType, obj: Any) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise BadRequest("the request body must be a JSON object")
        if obj.get("kind") != rtype.kind or obj.get("apiVersion") != rtype.api_version:
            raise BadRequest(
                f"the body is a {obj.get('kind')} of {obj.get('apiVersion')}, "
                f"the URL names {rtype.plural} of {rtype.api_version}"
            )
        metadata = obj.setdefault("metadata", {})
        if not isinstance(metadata, dict):
            raise BadRequest("metadata must be an object")
        if rtype.namespaced:
            namespace = metadata.get("namespace") or route.namespace
            if namespace != route.namespace:
                raise BadRequest(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
            metadata["namespace"] = namespace
        if route.name and metadata.get("name", route.name) != route.name:
            raise BadRequest(
                f"the name of the object ({metadata.get('name')}) does not match the name "
                f"on the URL ({route.name})"
            )
        if route.name:
            metadata["name"] = route.name
        return obj

    def _create(self, route: ResourcePath, rtype: ResourceType, body: Any) -> dict[str, Any]:
        if rtype.namespaced and route.namespace is None:
            raise MethodNotAllowed(f"{rtype.plural} are created inside a namespace")
        obj = self._check_body(route, rtype, body)
        metadata = obj["metadata"]
        if not metadata.get("name") and metadata.get("generateName"):
            metadata["name"] = _generated_name(str(metadata["generateName"]))
        if not metadata.get("name"):
            raise Invalid(
                f"{rtype.kind} is invalid: metadata.name: Required value: "
                "name or generateName is required"
            )
        return self.store.create(obj)

    def _replace(self, route: ResourcePath, rtype: ResourceType, body: Any) -> dict[str, Any]:
        obj = self._check_body(route, rtype, body)
        self._stored(route, rtype)
        if route.subresource == "status":
            return self.store.update_status(obj)
        if not rtype.builtin and not obj["metadata"].get("resourceVersion"):
            # Custom resources take no unconditional update, as on a real API server.
            raise Invalid(
                f'{rtype.kind}.{rtype.group} "{route.name}" is invalid: metadata.resourceVersion: '
                "Invalid value: 0x0: must be specified for an update"
            )
        return self.store.update(obj)

    def _patch(
        self,
        route: ResourcePath,
        rtype: ResourceType,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
    ) -> dict[str, Any]:
        content_type = headers.get("content-type", "").split(";")[0].strip()
        if content_type not in PATCH_TYPES:
            raise UnsupportedMediaType(
                f"the body of the request was in an unknown format - accepted media types "
                f"include: {', '.join(PATCH_TYPES)}"
            )
        patch = _json(body)
        for attempt in range(_PATCH_RETRIES):
            current = self._stored(route, rtype)
            patched = apply_patch(content_type, current, patch)
            patched = self._check_body(route, rtype, self._strict(rtype, query, patched))
            pinned = (
                patched["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]
            )
            try:
                if route.subresource == "status":
                    return self.store.update_status(patched)
                return self.store.update(patched)
            except Conflict:
                # A concurrent write between read and update: the API server retries a patch
                # itself, unless the patch pinned the resourceVersion.
                if pinned or attempt == _PATCH_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _delete(self, route: ResourcePath, rtype: ResourceType, body: bytes) -> dict[str, Any]:
        options = _json(body) if body.strip() else {}
        uid = ((options or {}).get("preconditions") or {}).get("uid")
        current = self._stored(route, rtype)
        self.store.delete(rtype.api_version, rtype.kind, route.namespace, route.name, uid)
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {
                "name": route.name,
                "group": rtype.group,
                "kind": rtype.plural,
                "uid": current["metadata"]["uid"],
            },
        }


class _NotFoundRoute(NotFound):
    """404 for a URL that names no served resource."""


def _json(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BadRequest(f"the request body is not JSON: {error}") from None


def _decode(body: bytes, headers: dict[str, str]) -> Any:
    content_type = headers.get("content-type", "application/json").split(";")[0].strip()
    if content_type not in ("application/json", ""):
        raise UnsupportedMediaType(
            f"the body of the request was in an unknown format ({content_type}); "
            "the stand-in accepts application/json"
        )
    return _json(body)


def _handler_for(api: RestApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: kubectl sends many small requests

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            code, answer = api.handle(self.command, self.path, headers, body)
            data = json.dumps(answer).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: the tests read results from the store, not from access logs

    return Handler


class ApiServer:
    """A background HTTP server serving the Kubernetes REST API of `store`."""

    def __init__(self, store: Store) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self._server.RequestHandlerClass = _handler_for(RestApi(store, f"{host}:{port}"))
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:40123."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ApiServer:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
