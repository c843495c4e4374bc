"""The one API endpoint the executor calls: creating objects (`executor trigger` → BackupSession).

Served on 127.0.0.1 with the standard library's threaded HTTP server; its address reaches Jobs
as ZKSTASH_API_SERVER (docs/contracts.md §4).
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.standin.kinds import UnknownKindError
from tests.standin.store import ApiError, Invalid, Store

_CREATE_PATH = re.compile(
    r"^/apis/(?P<group>[^/]+)/(?P<version>[^/]+)/namespaces/(?P<ns>[^/]+)/(?P<plural>[^/]+)$"
)


def _handler_for(store: Store) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            match = _CREATE_PATH.match(self.path.split("?")[0])
            if match is None:
                self._answer(
                    404, {"kind": "Status", "message": f"no route {self.path}", "code": 404}
                )
                return
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                created = self._create(body, match)
            except json.JSONDecodeError as error:
                self._answer(
                    400, {"kind": "Status", "message": f"invalid JSON: {error}", "code": 400}
                )
            except UnknownKindError as error:
                self._answer(404, {"kind": "Status", "message": str(error), "code": 404})
            except ApiError as error:
                self._answer(error.code, error.status())
            else:
                self._answer(201, created)

        def _create(self, body: dict[str, Any], match: re.Match[str]) -> dict[str, Any]:
            api_version = f"{match['group']}/{match['version']}"
            rtype = store.kinds.by_resource(api_version, match["plural"])
            if body.get("kind") != rtype.kind or body.get("apiVersion") != api_version:
                raise Invalid(f"the body is a {body.get('kind')}, the URL names {rtype.plural}")
            namespace = (body.get("metadata") or {}).get("namespace") or match["ns"]
            if namespace != match["ns"]:
                raise Invalid(
                    "the namespace of the object does not match the namespace of the request"
                )
            body.setdefault("metadata", {})["namespace"] = namespace
            return store.create(body)

        def _answer(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: the tests read results from the store, not from access logs

    return Handler


class ApiServer:
    """A background HTTP server creating objects in `store`."""

    def __init__(self, store: Store) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(store))
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
