"""Plugin fixtures: one stand-in cluster per module with a finished backup, reached by the real
`kubectl-zkstash` (and real `kubectl`) through the stand-in's REST API and a kubeconfig."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from plugin import cli as plugin_cli
from tests.e2e.conftest import hooks_server  # noqa: F401 - the session's real hooks server
from tests.e2e.flow import NS, apply_backup_setup, next_session, wait_phases, zookeeper_client
from tests.infra.zookeeper import SUPER_PASSWORD, SUPER_USER, ZooKeeperServer
from tests.standin import zktree
from tests.standin.hooks_server import HooksServer
from tests.standin.kubectl import Kubectl
from tests.standin.standin import Standin

BIN = Path(sys.executable).parent


@dataclass
class Run:
    """One finished command: exit code and both output streams."""

    code: int
    stdout: str
    stderr: str


@dataclass
class BackedUp:
    """A stand-in cluster whose initial backup of `zk_root` succeeded."""

    cluster: Standin
    kubectl: Kubectl
    kubeconfig: Path
    backup_dir: Path
    zk_root: str
    zookeeper: ZooKeeperServer
    first_session: str


def write_kubeconfig(path: Path, server: str, namespace: str) -> Path:
    """A kubeconfig with one context whose namespace is `namespace`, as kubectl writes them."""
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "standin", "cluster": {"server": server}}],
                "users": [{"name": "tester", "user": {"token": "standin-token"}}],
                "contexts": [
                    {
                        "name": "standin",
                        "context": {"cluster": "standin", "user": "tester", "namespace": namespace},
                    }
                ],
                "current-context": "standin",
            }
        )
    )
    return path


def run_command(*argv: str, kubeconfig: Path | None = None, cwd: Path | None = None) -> Run:
    """Run a console script of the venv (kubectl-zkstash, kubectl, executor)."""
    # A private HOME: kubectl writes its discovery cache under $HOME/.kube.
    home = cwd or (kubeconfig.parent if kubeconfig else Path(tempfile.mkdtemp(prefix="home-")))
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    done = subprocess.run(
        [str(BIN / argv[0]), *argv[1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )
    return Run(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def backed_up(
    hooks_server: HooksServer,  # noqa: F811
    zookeeper: ZooKeeperServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[BackedUp]:
    """Storage, retention and a BackupConfiguration of a seeded tree; its first backup done."""
    workdir = tmp_path_factory.mktemp("plugin")
    backup_dir = workdir / "backups"
    backup_dir.mkdir()
    zk_root = f"/plugin-{uuid.uuid4().hex[:10]}"
    with zookeeper_client(zookeeper.hosts) as client:
        zktree.seed(client, zk_root, SUPER_USER, SUPER_PASSWORD)
    cluster = Standin(hooks_server.url, workdir / "cluster", job_backoff_seconds=1.0)
    try:
        kubectl = Kubectl(cluster)
        apply_backup_setup(kubectl, zookeeper, backup_dir, root=zk_root)
        session = next_session(cluster, kubectl, [])
        wait_phases(cluster, kubectl, "BackupSession", NS, session, "Succeeded", 90)
        cluster.settle()
        kubeconfig = write_kubeconfig(workdir / "kubeconfig", cluster.api.url, NS)
        yield BackedUp(cluster, kubectl, kubeconfig, backup_dir, zk_root, zookeeper, session)
    finally:
        cluster.close()


@pytest.fixture
def zkstash(backed_up: BackedUp, monkeypatch: pytest.MonkeyPatch):
    """`kubectl-zkstash ARGS…` against the backed-up cluster (kubeconfig context: demo), run
    in this process (`plugin.cli.run`, what the console script calls) to spare each call the
    client library's import; `run_command` covers the installed script itself."""
    monkeypatch.setenv("KUBECONFIG", str(backed_up.kubeconfig))

    def call(*argv: str) -> Run:
        out, err = io.StringIO(), io.StringIO()
        code = plugin_cli.run(argv, out, err)
        return Run(code, out.getvalue(), err.getvalue())

    return call


@pytest.fixture(autouse=True)
def _no_ambient_kubeconfig(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing from the developer's own cluster setup may leak into a test."""
    for name in [n for n in os.environ if n.startswith("KUBE")]:
        monkeypatch.delenv(name)
