"""`make demo`: the whole zkstash flow on this machine, as a user would drive it with kubectl.

A local ZooKeeper on 127.0.0.1:2181 gets a small Kafka-like tree; the real hooks server runs
under gunicorn; the stand-in cluster applies examples/local/, backs up, the data is broken, the
RestoreSession restores it, and a diff proves it is back.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kazoo.client import KazooClient

from schemas.loader import load_documents
from tests.infra.zookeeper import JAVA_CLASSPATH, _Node, _wait_serving, _write_config, super_digest
from tests.standin import zktree
from tests.standin.hooks_server import HooksServer
from tests.standin.kubectl import Kubectl
from tests.standin.standin import REPO_ROOT, Standin, WaitTimeout

EXAMPLES = REPO_ROOT / "examples" / "local"
BACKUP_ROOT = Path("/var/lib/zkstash/backups")
ZK_PORT = 2181
DATA_ROOT = "/kafka"
NS = "demo"


def say(text: str) -> None:
    """A step heading."""
    print(f"\n\033[1m==> {text}\033[0m", flush=True)


def show(kubectl: Kubectl, *kinds: str) -> None:
    """`kubectl get` of each kind in the demo namespace."""
    for kind in kinds:
        print(f"$ kubectl get {kind} -n {NS}")
        print(kubectl.get(kind, NS))


class DemoZooKeeper(_Node):
    """A standalone ZooKeeper on 127.0.0.1:2181 whose super user is the example Secret's.

    tests/infra starts servers on free ports with the test suite's super password; the demo's
    AppBinding says 127.0.0.1:2181 and its Secret holds another password, so only the JVM's
    command line differs here.
    """

    def __init__(self, conf_dir: Path, user: str, password: str) -> None:
        super().__init__(conf_dir, ZK_PORT)
        self.user = user
        self.password = password

    def start(self) -> None:
        conf = self.conf_dir
        _write_config(conf, ZK_PORT, {})
        command = [
            "java",
            "-Xmx512m",
            "-Dzookeeper.jmx.log4j.disable=true",
            f"-Dlog4j.configuration=file:{conf}/log4j.properties",
            f"-Dzk.log.file={conf}/zk.log",
            "-Dzookeeper.DigestAuthenticationProvider.superDigest="
            + super_digest(self.user, self.password),
            "-cp",
            ":".join([str(conf), *JAVA_CLASSPATH]),
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            str(conf / "zoo.cfg"),
        ]
        with open(conf / "stdout.log", "ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        _wait_serving([self])


def example_documents() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """examples/local/ split into the setup documents and the RestoreSession."""
    documents = [d for path in sorted(EXAMPLES.glob("*.yaml")) for d in load_documents(path)]
    restore = [d for d in documents if d.get("kind") == "RestoreSession"]
    return [d for d in documents if d.get("kind") != "RestoreSession"], restore


def zookeeper_credentials(documents: list[dict[str, Any]]) -> tuple[str, str]:
    """username/password of the AppBinding's Secret in the example."""
    binding = next(d for d in documents if d.get("kind") == "AppBinding")
    name = binding["spec"]["secret"]["name"]
    secret = next(
        d for d in documents if d.get("kind") == "Secret" and d["metadata"]["name"] == name
    )
    return secret["stringData"]["username"], secret["stringData"]["password"]


def port_in_use(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def phases(kubectl: Kubectl, kind: str) -> list[tuple[str, str]]:
    """(name, phase) of every object of a kind in the demo namespace."""
    return [
        (o["metadata"]["name"], str((o.get("status") or {}).get("phase") or ""))
        for o in kubectl.objects(kind, NS)
    ]


def wait_phase(
    kubectl: Kubectl, kind: str, name: str, phase: str, timeout: float
) -> dict[str, Any]:
    """Like `kubectl get <kind> -w`: a table each time a phase of that kind changes."""
    plural = kubectl.store.kinds.lookup(kind).plural
    print(f"$ kubectl get {plural} -n {NS} -w   # until {name} is {phase}", flush=True)
    shown: list[tuple[str, str]] = []

    def reached() -> dict[str, Any] | None:
        nonlocal shown
        now = phases(kubectl, kind)
        if now != shown and any(p for _, p in now):
            shown = now
            print(kubectl.get(kind, NS) + "\n", flush=True)
        obj = kubectl.object(kind, NS, name)
        return obj if obj and (obj.get("status") or {}).get("phase") == phase else None

    return kubectl.standin.run_until(
        reached, timeout, lambda: f"{kind} {NS}/{name} to be {phase}; now {phases(kubectl, kind)}"
    )


def backup_result(kubectl: Kubectl, session: str) -> dict[str, Any]:
    """The executor's BackupResult: the termination message of the session's backup pod."""
    for pod in kubectl.objects("Pod", NS):
        if (pod["metadata"].get("labels") or {}).get("kubestash.com/invoker-name") != session:
            continue
        for status in pod.get("status", {}).get("containerStatuses") or []:
            terminated = status.get("state", {}).get("terminated")
            if terminated and terminated.get("message"):
                return dict(json.loads(terminated["message"]))
    return {}


def directory_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def run(workdir: Path) -> int:
    started = time.monotonic()
    setup, restore = example_documents()
    user, password = zookeeper_credentials(setup)

    say(f"Clearing previous demo data in {BACKUP_ROOT}")
    if BACKUP_ROOT.exists():
        shutil.rmtree(BACKUP_ROOT)
    BACKUP_ROOT.mkdir(parents=True)

    say(f"Starting ZooKeeper on 127.0.0.1:{ZK_PORT}")
    if port_in_use(ZK_PORT):
        print(
            f"error: 127.0.0.1:{ZK_PORT} is already in use; stop that ZooKeeper first",
            file=sys.stderr,
        )
        return 1
    zookeeper = DemoZooKeeper(workdir / "zookeeper", user, password)
    zookeeper.start()
    client = KazooClient(hosts=f"127.0.0.1:{ZK_PORT}", auth_data=[("digest", f"{user}:{password}")])
    client.start(timeout=15)
    hooks = HooksServer(workdir / "hooks.log")
    standin: Standin | None = None
    try:
        zktree.seed(client, DATA_ROOT, user, password)
        before = zktree.read_tree(client, DATA_ROOT)
        print(
            f"seeded {len(before)} znodes under {DATA_ROOT}: brokers, topics, config, "
            "sequential and ACL'd nodes"
        )

        say("Starting the hooks server (gunicorn) and the Kubernetes + Metacontroller stand-in")
        hooks.start()
        standin = Standin(hooks.url, workdir / "cluster")
        kubectl = Kubectl(standin)
        print(
            f"hooks: {hooks.url}  controllers: "
            + ", ".join(sorted(standin.metacontroller.controllers))
        )

        say("kubectl apply -f examples/local/ (everything but the RestoreSession)")
        print("\n".join(kubectl.apply(setup)))
        storage = next(d for d in setup if d["kind"] == "BackupStorage")["metadata"]["name"]
        bc = next(d for d in setup if d["kind"] == "BackupConfiguration")
        wait_phase(kubectl, "BackupStorage", storage, "Ready", 60)
        wait_phase(kubectl, "BackupConfiguration", bc["metadata"]["name"], "Ready", 60)
        repo = bc["spec"]["sessions"][0]["repositories"][0]["name"]
        wait_phase(kubectl, "Repository", repo, "Ready", 60)
        show(kubectl, "cronjobs")

        say("The initial backup")
        sessions = standin.run_until(
            lambda: kubectl.objects("BackupSession", NS), 60, "a BackupSession"
        )
        session = sessions[0]["metadata"]["name"]
        done = wait_phase(kubectl, "BackupSession", session, "Succeeded", 120)
        snapshot_name = done["status"]["snapshots"][0]["name"]
        snapshot = wait_phase(kubectl, "Snapshot", snapshot_name, "Succeeded", 60)
        result = backup_result(kubectl, session)
        show(kubectl, "jobs")

        say(f"Breaking the data: deleting {DATA_ROOT}/brokers/topics and {DATA_ROOT}/config")
        client.delete(f"{DATA_ROOT}/brokers/topics", recursive=True)
        client.delete(f"{DATA_ROOT}/config", recursive=True)
        broken = zktree.diff(before, zktree.read_tree(client, DATA_ROOT))
        print("\n".join(broken))
        print(f"({len(broken)} znodes gone, among them the ACL'd {DATA_ROOT}/config/users)")

        say("kubectl apply -f examples/local/07-restoresession.yaml")
        print("\n".join(kubectl.apply(restore)))
        restore_name = restore[0]["metadata"]["name"]
        wait_phase(kubectl, "RestoreSession", restore_name, "Succeeded", 120)

        say("Comparing the data with what it was before the backup")
        after = zktree.read_tree(client, DATA_ROOT)
        differences = zktree.diff(before, after)
        if differences:
            print("the restored data differs:\n" + "\n".join(differences))
            return 1
        print(f"before == after: all {len(after)} znodes, their data and ACLs are back")

        say("Summary")
        component = snapshot["status"]["components"]["dump"]
        restic_id = component["resticStats"][0]["summary"]["id"]
        repo_obj = kubectl.object("Repository", NS, repo)
        repo_path = BACKUP_ROOT / repo_obj["spec"]["path"].strip("/") / component["path"]
        print(f"restic repository : {repo_path}")
        print(f"snapshot          : {snapshot['metadata']['name']} (restic id {restic_id[:12]}…)")
        stream = result.get("stream") or {}
        print(
            f"znodes backed up  : {stream.get('znodes', '?')} in the whole tree "
            f"({len(before)} under {DATA_ROOT})"
        )
        print(
            f"sizes             : dump stream {stream.get('bytes', '?')} bytes "
            f"(Snapshot size {snapshot['status'].get('size', '?')}), "
            f"repository {directory_size(repo_path)} bytes on disk (restic: compressed, encrypted)"
        )
        print(f"restic password   : the RESTIC_PASSWORD of Secret {NS}/encrypt-secret")
        print(f"try it            : RESTIC_PASSWORD=… restic -r {repo_path} snapshots")
        print(f"took              : {time.monotonic() - started:.1f} s")
        return 0
    except WaitTimeout as error:
        print(f"\nerror: {error}", file=sys.stderr)
        print(f"(hooks server log: {hooks.log_path})", file=sys.stderr)
        return 1
    finally:
        if standin is not None:
            standin.close()
        hooks.stop()
        client.stop()
        client.close()
        zookeeper.stop()


def main() -> int:
    """Run the demo in a temporary working directory."""
    with tempfile.TemporaryDirectory(prefix="zkstash-demo-") as workdir:
        return run(Path(workdir))


if __name__ == "__main__":
    sys.exit(main())
