"""No secret value leaks: a whole flow on the stand-in — a backup to the real S3 server, a
restore, and a backup that fails on a wrong restic password — with distinctive planted secret
values, then every output of it is scanned for them (and their base64 forms).

Outputs scanned: every object in the store except the Secrets themselves (spec, status,
metadata with annotations, last-applied included), every webhook request (without the Secrets
Metacontroller relates, which legitimately carry the data) and every webhook response, every
Job's args, every executor pod's log and termination message, and the hooks server's log.
"""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.security import OPEN_ACL_UNSAFE, make_digest_acl

from tests.e2e import objects
from tests.e2e.flow import NS, SESSION, TARGET, next_session, zookeeper_client
from tests.infra.s3 import S3Server
from tests.infra.zookeeper import ZooKeeperServer
from tests.reliability.security_cluster import HookExchange, hook_exchanges  # noqa: F401
from tests.standin.hooks_server import HooksServer
from tests.standin.kubectl import Kubectl
from tests.standin.standin import Standin

ZK_USER = "zkstash-backup"
REPO = "s3-zookeeper-repo"
BC = "sample-zookeeper-backup"


def planted(kind: str) -> str:
    """A value no output would contain by chance."""
    return f"planted-{kind}-{secrets.token_hex(12)}"


def forms(value: str) -> set[str]:
    """The value and the encodings it could leak in (plain base64, and base64 of `user:pw`
    style prefixes is covered because the plain value is a substring of those decoded)."""
    raw = value.encode()
    return {value, base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}


def leaks(text: str, values: list[str]) -> list[str]:
    """Which planted values (in any of their forms) occur in the text."""
    return sorted({v for v in values for form in forms(v) if form in text})


def without_secrets(request: dict[str, Any]) -> dict[str, Any]:
    """A webhook request with the Secret objects Metacontroller relates taken out."""
    related = {
        k: v for k, v in (request.get("related") or {}).items() if not k.startswith("Secret.")
    }
    return {**request, "related": related}


def secret_names_sent(exchanges: list[HookExchange]) -> dict[str, set[str]]:
    """Per hook path: the Secrets the stand-in sent to it as related objects."""
    sent: dict[str, set[str]] = {}
    for exchange in exchanges:
        path = exchange.url.split("/", 3)[-1]
        for group, items in (exchange.request.get("related") or {}).items():
            if group.startswith("Secret."):
                sent.setdefault(path, set()).update(items)
    return sent


def seed_zookeeper(client: KazooClient, root: str, password: str) -> None:
    """A small tree: open nodes, and one only the backup user may read (so its credentials
    are really used)."""
    client.create(root, b"root", acl=OPEN_ACL_UNSAFE)
    client.create(f"{root}/open", b"open data", acl=OPEN_ACL_UNSAFE)
    client.create(
        f"{root}/private",
        b"only the backup user",
        acl=[make_digest_acl(ZK_USER, password, all=True)],
    )


def apply_world(
    kubectl: Kubectl,
    zookeeper: ZooKeeperServer,
    restore_hosts: str,
    s3_server: S3Server,
    s3_prefix: str,
    root: str,
    restic_password: str,
    zk_password: str,
) -> None:
    kubectl.apply(
        [
            objects.namespace(NS),
            objects.secret(NS, "encrypt-secret", {"RESTIC_PASSWORD": restic_password}),
            objects.secret(
                NS, "sample-zookeeper-auth", {"username": ZK_USER, "password": zk_password}
            ),
            objects.s3_secret(NS, s3_server.access_key, s3_server.secret_key),
            objects.appbinding(NS, TARGET, zookeeper.hosts),
            objects.appbinding(NS, "restored-zookeeper", restore_hosts),
            objects.s3_storage(NS, s3_server.endpoint, s3_server.bucket, s3_prefix),
            objects.retention(NS),
        ]
    )
    kubectl.wait_for("BackupStorage", NS, "s3-storage", "Ready", timeout=30)
    kubectl.apply(
        objects.backup_configuration(
            NS,
            TARGET,
            [objects.backend("s3-backend", "s3-storage", NS)],
            [objects.repository_info(REPO, "s3-backend", "/zookeeper")],
            params={"root": root},
        )
    )


def every_output(
    cluster: Standin, exchanges: list[HookExchange], hooks_log: Path
) -> dict[str, str]:
    """Name → text of everything the flow produced that someone without Secret access may read."""
    outputs: dict[str, str] = {}
    for obj in cluster.store.all_objects():
        meta = obj["metadata"]
        if obj["kind"] == "Secret":
            continue
        where = f"{obj['kind']} {meta.get('namespace', '')}/{meta['name']}"
        outputs[f"store: {where}"] = json.dumps(obj)
        if obj["kind"] == "Job":
            for container in obj["spec"]["template"]["spec"]["containers"]:
                outputs[f"args: {where}"] = json.dumps(container.get("args"))
    for index, exchange in enumerate(exchanges):
        outputs[f"hook request {index} {exchange.url}"] = json.dumps(
            without_secrets(exchange.request)
        )
        outputs[f"hook response {index} {exchange.url}"] = json.dumps(exchange.response)
    for log in sorted((cluster.jobs.workdir / "pods").rglob("log")):
        outputs[f"pod log: {log.parent.name}"] = log.read_text(errors="replace")
    for message in sorted((cluster.jobs.workdir / "pods").rglob("termination-log")):
        outputs[f"termination message: {message.parent.name}"] = message.read_text(errors="replace")
    outputs["hooks server log"] = hooks_log.read_text(errors="replace")
    return outputs


@pytest.mark.reliability(
    "Security: secrets", "no planted secret in any object, hook body, arg or log of a whole flow"
)
def test_backup_restore_and_wrong_password_flow_leaks_no_secret(
    cluster: Standin,
    kubectl: Kubectl,
    hook_exchanges: list[HookExchange],  # noqa: F811
    hooks_server: HooksServer,
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    restore_hosts: str,
    s3_server: S3Server,
    s3_prefix: str,
) -> None:
    restic_password, wrong_password, zk_password = (
        planted("restic"), planted("wrong-restic"), planted("zookeeper"),
    )  # fmt: skip
    seed_zookeeper(zk_client, zk_root, zk_password)
    apply_world(
        kubectl,
        zookeeper,
        restore_hosts,
        s3_server,
        s3_prefix,
        zk_root,
        restic_password,
        zk_password,
    )
    kubectl.wait_for("Repository", NS, REPO, "Ready", timeout=60)
    first = next_session(cluster, kubectl, [])
    kubectl.wait_for("BackupSession", NS, first, "Succeeded", timeout=90)

    kubectl.apply(objects.restore_session(NS, "restored-zookeeper", REPO))
    kubectl.wait_for("RestoreSession", NS, "sample-zookeeper-restore", "Succeeded", timeout=90)
    with zookeeper_client(restore_hosts) as client:
        assert client.get(f"{zk_root}/private")[0] == b"only the backup user"

    kubectl.apply(objects.secret(NS, "encrypt-secret", {"RESTIC_PASSWORD": wrong_password}))
    cluster.fire_cronjob(NS, f"trigger-{BC}-{SESSION}")
    failing = next_session(cluster, kubectl, [first])
    failed = kubectl.wait_for("BackupSession", NS, failing, "Failed", timeout=120)
    assert "password" in json.dumps(failed["status"]).lower()

    planted_values = [
        restic_password,
        wrong_password,
        zk_password,
        s3_server.access_key,
        s3_server.secret_key,
    ]
    outputs = every_output(cluster, hook_exchanges, hooks_server.log_path)
    # the scan does see a value where one is: the Secrets themselves (left out above) hold them
    stored_secrets = json.dumps(kubectl.objects("Secret", NS))
    assert leaks(stored_secrets, planted_values) == sorted(set(planted_values) - {restic_password})
    assert len(outputs) > 50 and any(k.startswith("pod log") for k in outputs)
    found = {where: leaks(text, planted_values) for where, text in outputs.items()}
    assert {where: values for where, values in found.items() if values} == {}


@pytest.mark.reliability("Security: secrets", "every hook is sent only the Secrets it names")
def test_only_storage_and_restore_hooks_are_sent_secrets_and_only_those_they_name(
    cluster: Standin,
    kubectl: Kubectl,
    hook_exchanges: list[HookExchange],  # noqa: F811
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    restore_hosts: str,
    s3_server: S3Server,
    s3_prefix: str,
) -> None:
    zk_password = planted("zookeeper")
    seed_zookeeper(zk_client, zk_root, zk_password)
    apply_world(
        kubectl,
        zookeeper,
        restore_hosts,
        s3_server,
        s3_prefix,
        zk_root,
        planted("restic"),
        zk_password,
    )
    kubectl.apply(objects.secret(NS, "unrelated-secret", {"token": planted("unrelated")}))
    kubectl.wait_for("Repository", NS, REPO, "Ready", timeout=60)
    first = next_session(cluster, kubectl, [])
    kubectl.wait_for("BackupSession", NS, first, "Succeeded", timeout=90)
    kubectl.apply(objects.restore_session(NS, "restored-zookeeper", REPO))
    kubectl.wait_for("RestoreSession", NS, "sample-zookeeper-restore", "Succeeded", timeout=90)

    # Each reads only whether a Secret exists: the BackupStorage hook its credentials Secret,
    # the RestoreSession hook the encryption Secret its spec names (any other Secret its Job
    # needs and lacks shows on the Job's pod instead).
    assert secret_names_sent(hook_exchanges) == {
        "sync/backupstorage": {f"{NS}/s3-secret"},
        "sync/restoresession": {f"{NS}/encrypt-secret"},
    }
