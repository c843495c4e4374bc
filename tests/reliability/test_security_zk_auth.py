"""ZooKeeper authentication and TLS, end to end through the executor CLI as a Job runs it
(credentials and PEM material only in the environment, contracts §2): a secure client port that
requires a client certificate (Debian's ZooKeeper, NettyServerCnxnFactory, ssl.clientAuth=need),
and SASL DIGEST-MD5 logins. Digest-only nodes restored exactly with super credentials are
covered by test_security_acls."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from kazoo.security import ACL, Id

from tests.infra.s3_fixtures import LocalResticRepository
from tests.infra.zookeeper import (
    SUPER_PASSWORD,
    SUPER_USER,
    ZooKeeperServer,
    make_client_certificate,
    make_test_certificates,
)
from tests.infra.zookeeper_fixtures import super_client

EXECUTOR = str(Path(sys.executable).parent / "executor")
SASL_USER, SASL_PASSWORD = "carol", "carol-sasl-password-4d1"


@pytest.fixture(scope="module")
def mtls_zookeeper() -> Iterator[ZooKeeperServer]:
    """A ZooKeeper whose TLS port refuses clients without a certificate from its CA."""
    with ZooKeeperServer(tls=True, tls_client_auth="need") as server:
        yield server


@pytest.fixture(scope="module")
def sasl_zookeeper() -> Iterator[ZooKeeperServer]:
    with ZooKeeperServer(sasl_users={SASL_USER: SASL_PASSWORD}) as server:
        yield server


def tls_dir(server: ZooKeeperServer) -> Path:
    return Path(server.ca_file).parent


def run_executor(
    args: list[str], env: dict[str, str], repository: LocalResticRepository
) -> tuple[int, dict, str]:
    """(exit code, result JSON, stderr) of one executor command."""
    done = subprocess.run(
        [EXECUTOR, *args, f"--repository={repository.path}", "--timeout=5", "--log-format=json"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(repository.cache_dir), **repository.env(), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def tls_env(server: ZooKeeperServer, with_certificate: bool = True) -> dict[str, str]:
    """ZK_TLS_*_DATA as the AppBinding's tlsSecret gives them, plus super digest credentials."""
    env = {
        "ZK_USERNAME": SUPER_USER,
        "ZK_PASSWORD": SUPER_PASSWORD,
        "ZK_TLS_CA_DATA": Path(server.ca_file).read_text(),
    }
    if with_certificate:
        cert, key = make_client_certificate(tls_dir(server))
        env |= {"ZK_TLS_CERT_DATA": cert.read_text(), "ZK_TLS_KEY_DATA": key.read_text()}
    return env


def seed(server: ZooKeeperServer, root: str) -> None:
    client = super_client(server.hosts)
    try:
        client.create(f"{root}/a", b"over mutual tls", makepath=True)
    finally:
        client.stop()


@pytest.mark.reliability(
    "Security: ZooKeeper auth and TLS", "client certificate: backup and restore"
)
def test_backup_and_restore_over_tls_with_a_client_certificate(
    mtls_zookeeper: ZooKeeperServer, restic_repository: LocalResticRepository
) -> None:
    seed(mtls_zookeeper, "/mtls")
    secure = f"--zookeeper=127.0.0.1:{mtls_zookeeper.tls_port}"
    env = tls_env(mtls_zookeeper)
    code, backup, _ = run_executor(
        ["backup", secure, "--auth=digest", "--tls", "--root=/mtls", "--session=tls"],
        env,
        restic_repository,
    )
    assert (code, backup["phase"], backup["stream"]["znodes"]) == (0, "Succeeded", 2)
    code, restored, stderr = run_executor(
        ["restore", secure, "--auth=digest", "--tls", "--target-root=/mtls-copy", "--session=tls"],
        env,
        restic_repository,
    )
    assert (code, restored["phase"]) == (0, "Succeeded"), stderr
    client = super_client(mtls_zookeeper.hosts)
    try:
        assert client.get("/mtls-copy/a")[0] == b"over mutual tls"
    finally:
        client.stop()
    assert env["ZK_TLS_KEY_DATA"].splitlines()[1] not in stderr + json.dumps(restored)


@pytest.mark.reliability("Security: ZooKeeper auth and TLS", "no client certificate: refused")
def test_a_client_without_a_certificate_is_refused_with_a_clear_error(
    mtls_zookeeper: ZooKeeperServer, restic_repository: LocalResticRepository
) -> None:
    code, result, stderr = run_executor(
        [
            "backup",
            f"--zookeeper=127.0.0.1:{mtls_zookeeper.tls_port}",
            "--auth=digest",
            "--tls",
            "--session=tls",
        ],
        tls_env(mtls_zookeeper, with_certificate=False),
        restic_repository,
    )
    assert (code, result["phase"]) == (1, "Failed")
    assert "cannot connect to ZooKeeper" in result["error"]
    assert "Traceback" not in stderr
    assert restic_repository.snapshot_ids() == []


@pytest.mark.reliability("Security: ZooKeeper auth and TLS", "certificate from another CA: refused")
def test_a_client_certificate_from_another_ca_is_refused(
    mtls_zookeeper: ZooKeeperServer, restic_repository: LocalResticRepository, tmp_path: Path
) -> None:
    stranger = make_test_certificates(tmp_path / "stranger")
    cert, key = make_client_certificate(stranger, "intruder")
    env = tls_env(mtls_zookeeper, with_certificate=False) | {
        "ZK_TLS_CERT_DATA": cert.read_text(),
        "ZK_TLS_KEY_DATA": key.read_text(),
    }
    code, result, _ = run_executor(
        ["backup", f"--zookeeper=127.0.0.1:{mtls_zookeeper.tls_port}", "--auth=digest", "--tls",
         "--session=tls"],
        env,
        restic_repository,
    )  # fmt: skip
    assert (code, result["phase"]) == (1, "Failed")
    assert "cannot connect to ZooKeeper" in result["error"]


@pytest.mark.reliability("Security: ZooKeeper auth and TLS", "SASL DIGEST-MD5: backup and restore")
def test_sasl_login_backs_up_and_restores_nodes_only_that_user_may_read(
    sasl_zookeeper: ZooKeeperServer, restic_repository: LocalResticRepository
) -> None:
    only_carol = [ACL(31, Id("sasl", SASL_USER))]
    client = super_client(sasl_zookeeper.hosts)
    try:
        client.create("/sasl-app/config", b"for carol", acl=only_carol, makepath=True)
    finally:
        client.stop()
    env = {"ZK_USERNAME": SASL_USER, "ZK_PASSWORD": SASL_PASSWORD}
    hosts = f"--zookeeper={sasl_zookeeper.hosts}"
    code, backup, stderr = run_executor(
        ["backup", hosts, "--auth=sasl", "--root=/sasl-app", "--session=sasl"],
        env,
        restic_repository,
    )
    assert (code, backup["phase"], backup["stream"]["znodes"]) == (0, "Succeeded", 2), stderr
    code, restored, stderr = run_executor(
        ["restore", hosts, "--auth=sasl", "--target-root=/sasl-copy", "--session=sasl"],
        env,
        restic_repository,
    )
    assert (code, restored["phase"]) == (0, "Succeeded"), stderr
    client = super_client(sasl_zookeeper.hosts)
    try:
        assert client.get("/sasl-copy/config")[0] == b"for carol"
        assert client.get_acls("/sasl-copy/config")[0] == only_carol
    finally:
        client.stop()
    assert SASL_PASSWORD not in stderr + json.dumps(backup) + json.dumps(restored)


@pytest.mark.reliability("Security: ZooKeeper auth and TLS", "SASL with a wrong password: refused")
def test_sasl_login_with_a_wrong_password_fails_clearly_without_echoing_it(
    sasl_zookeeper: ZooKeeperServer, restic_repository: LocalResticRepository
) -> None:
    wrong = "not-carols-password-93b"
    code, result, stderr = run_executor(
        ["backup", f"--zookeeper={sasl_zookeeper.hosts}", "--auth=sasl", "--session=sasl"],
        {"ZK_USERNAME": SASL_USER, "ZK_PASSWORD": wrong},
        restic_repository,
    )
    assert (code, result["phase"]) == (1, "Failed")
    assert result["error"] and "Traceback" not in stderr
    assert wrong not in stderr + json.dumps(result)
    assert restic_repository.snapshot_ids() == []
