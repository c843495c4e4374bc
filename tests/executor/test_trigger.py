"""`executor trigger` against a small local HTTP endpoint with the real API path and body."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from executor.trigger import LabelError, backup_session_name, endpoint_from_environment, parse_label
from hooks.controllers import backupconfiguration
from hooks.protocol import parse_request
from tests.executor.test_cli import executor
from tests.hooks import world


@dataclass
class ApiServer:
    """Records every request; answers 201 with the body, or `status` when set."""

    url: str
    requests: list[dict] = field(default_factory=list)
    status: int = 201


@pytest.fixture
def api_server() -> Iterator[ApiServer]:
    state = ApiServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append(
                {"path": self.path, "headers": dict(self.headers), "body": json.loads(body)}
            )
            if state.status == 201:
                answer = body
            else:
                answer = json.dumps(
                    {"kind": "Status", "message": "backupsessions already exists"}
                ).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def trigger(api: ApiServer, *extra: str) -> dict:
    made = executor(
        "trigger",
        "--namespace",
        "demo",
        "--backup-configuration",
        "sample-zookeeper-backup",
        "--session",
        "frequent-backup",
        *extra,
        env={"ZKSTASH_API_SERVER": api.url},
    )
    return {"code": made.code, "result": made.result}


def test_trigger_posts_a_backup_session_to_the_kubestash_api(api_server: ApiServer) -> None:
    outcome = trigger(api_server)
    assert outcome["code"] == 0
    [request] = api_server.requests
    assert request["path"] == "/apis/core.kubestash.com/v1alpha1/namespaces/demo/backupsessions"
    body = request["body"]
    assert body["apiVersion"] == "core.kubestash.com/v1alpha1"
    assert body["kind"] == "BackupSession"
    assert body["spec"] == {
        "invoker": {
            "apiGroup": "core.kubestash.com",
            "kind": "BackupConfiguration",
            "name": "sample-zookeeper-backup",
        },
        "session": "frequent-backup",
    }
    assert body["metadata"]["namespace"] == "demo"
    assert body["metadata"]["labels"]["kubestash.com/invoker-name"] == "sample-zookeeper-backup"
    assert body["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kubestash.com"
    name = body["metadata"]["name"]
    assert name.startswith("sample-zookeeper-backup-frequent-backup-")
    assert name.rsplit("-", 1)[1].isdigit()
    assert outcome["result"]["backupSession"] == name


def test_a_refused_trigger_is_one_sentence(api_server: ApiServer) -> None:
    api_server.status = 409
    outcome = trigger(api_server)
    assert outcome["code"] == 1
    assert outcome["result"]["error"].startswith("the API server refused BackupSession demo/")
    assert outcome["result"]["error"].endswith("HTTP 409 backupsessions already exists")


def test_trigger_outside_a_cluster_says_what_is_missing() -> None:
    made = executor(
        "trigger", "--namespace", "d", "--backup-configuration", "b", "--session", "s", env={}
    )
    assert made.code == 1
    assert "KUBERNETES_SERVICE_HOST is unset" in made.result["error"]


def test_long_names_are_cut_like_kubestash_does() -> None:
    name = backup_session_name("a" * 40, "frequent-backup", 1726572962)
    assert len(name) == 63
    assert name.endswith("frequent-backup-1726572962")


def test_in_cluster_endpoint_uses_the_service_account(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("sa-token\n")
    (tmp_path / "ca.crt").write_text("pem")
    environ = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    endpoint = endpoint_from_environment(environ, tmp_path)
    assert endpoint.base_url == "https://10.0.0.1:443"
    assert endpoint.token == "sa-token"
    assert endpoint.ca_file == str(tmp_path / "ca.crt")


def test_each_label_flag_becomes_a_label_of_the_backup_session(api_server: ApiServer) -> None:
    outcome = trigger(
        api_server,
        "--label=controller-uid=0a0a0a0a-1111-4222-8333-000000000001",
        "--label",
        "team.example.com/owner=platform",
    )
    assert outcome["code"] == 0
    assert api_server.requests[0]["body"]["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "kubestash.com",
        "kubestash.com/invoker-kind": "BackupConfiguration",
        "kubestash.com/invoker-name": "sample-zookeeper-backup",
        "kubestash.com/invoker-namespace": "demo",
        "kubestash.com/session-name": "frequent-backup",
        "controller-uid": "0a0a0a0a-1111-4222-8333-000000000001",
        "team.example.com/owner": "platform",
    }


def test_an_invalid_label_is_a_usage_error_and_nothing_is_created(api_server: ApiServer) -> None:
    outcome = trigger(api_server, "--label", "owner=not valid")
    assert outcome["code"] == 2
    assert outcome["result"]["error"] == (
        "--label 'owner=not valid': the value 'not valid' may hold only letters, digits, "
        "'-', '_' and '.', and must start and end with a letter or digit"
    )
    assert api_server.requests == []


def test_one_label_key_with_two_values_is_a_usage_error(api_server: ApiServer) -> None:
    outcome = trigger(api_server, "--label", "tier=gold", "--label", "tier=silver")
    assert outcome["code"] == 2
    assert outcome["result"]["error"] == "--label tier is given twice: 'gold' and 'silver'"


@pytest.mark.parametrize(
    ("pair", "problem"),
    [
        ("no-equals-sign", "must be KEY=VALUE"),
        ("=value", "the name must not be empty"),
        ("/name=v", "the prefix before '/' must not be empty"),
        ("Example.COM/name=v", "the prefix 'Example.COM' must be a DNS subdomain"),
        ("-leading-dash=v", "the name '-leading-dash' may hold only"),
        ("k=v=w", "the value 'v=w' may hold only"),
        ("k=" + "v" * 64, "the value is 64 characters, at most 63 are allowed"),
        ("n" * 64 + "=v", "the name is 64 characters, at most 63 are allowed"),
    ],
)
def test_label_syntax_errors_say_what_is_wrong(pair: str, problem: str) -> None:
    with pytest.raises(LabelError) as caught:
        parse_label(pair)
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("pair", "parsed"),
    [
        ("controller-uid=", ("controller-uid", "")),
        ("kubestash.com/invoker-name=a.b_c-d", ("kubestash.com/invoker-name", "a.b_c-d")),
        ("Tier=Gold_1", ("Tier", "Gold_1")),
    ],
)
def test_valid_labels_parse_into_key_and_value(pair: str, parsed: tuple[str, str]) -> None:
    assert parse_label(pair) == parsed


def test_the_hooks_trigger_cronjob_creates_a_session_its_controller_adopts(
    api_server: ApiServer,
) -> None:
    body = world.sync_body(
        "backupconfiguration",
        world.backup_configuration(),
        [],
        [
            world.namespace(),
            world.appbinding(),
            world.backup_storage(allowed_from="All"),
            world.retention_policy(),
            *world.catalog(),
        ],
    )
    response = backupconfiguration.sync(parse_request(body))
    [cronjob] = [c for c in response["children"] if c["kind"] == "CronJob"]
    [container] = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["executor"]
    made = executor(*container["args"], env={"ZKSTASH_API_SERVER": api_server.url})
    assert made.code == 0, made.stdout
    labels = api_server.requests[0]["body"]["metadata"]["labels"]
    assert labels["controller-uid"] == world.BC_UID
    assert labels["kubestash.com/invoker-name"] == "sample-zookeeper-backup"
    assert labels["kubestash.com/session-name"] == "frequent-backup"
