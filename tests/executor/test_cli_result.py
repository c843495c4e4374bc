"""The result object: contract shape, 4,096-byte limit, and no secret in any output."""

from __future__ import annotations

import json
from pathlib import Path

from kazoo.client import KazooClient

from executor.result import MAX_BYTES, encode, finalize, fit
from tests.executor.test_cli import ZK_ENV, executor, seed
from tests.infra.s3 import S3Server
from tests.infra.s3_fixtures import LocalResticRepository
from tests.infra.zookeeper import ZooKeeperServer


def failed_backup_result(repositories: int, error_length: int) -> dict:
    return {
        "kind": "BackupResult",
        "version": 1,
        "phase": "Failed",
        "error": "dump failed: " + "x" * error_length,
        "repositories": [
            {
                "name": f"repo-{i}",
                "phase": "Failed",
                "snapshotId": "",
                "bytesAdded": 0,
                "error": f"restic failed on repo-{i}: " + "y" * error_length,
            }
            for i in range(repositories)
        ],
    }


def test_long_errors_are_cut_so_the_result_fits_4096_bytes() -> None:
    fitted = fit(failed_backup_result(repositories=5, error_length=5000))
    assert len(encode(fitted)) <= MAX_BYTES
    assert fitted["error"].startswith("dump failed: xxx")
    assert fitted["error"].endswith("…")
    assert [r["name"] for r in fitted["repositories"]] == [f"repo-{i}" for i in range(5)]


def test_a_result_that_fits_is_unchanged() -> None:
    small = failed_backup_result(repositories=2, error_length=20)
    assert fit(small) == small


def test_very_many_repositories_still_fit_and_say_how_many_were_left_out() -> None:
    fitted = fit(failed_backup_result(repositories=400, error_length=100))
    assert len(encode(fitted)) <= MAX_BYTES
    assert fitted["repositoriesOmitted"] + len(fitted["repositories"]) == 400


def test_multibyte_errors_are_measured_in_bytes() -> None:
    result = {"kind": "InitResult", "version": 1, "phase": "Failed", "error": "ü" * 5000}
    assert len(encode(fit(result))) <= MAX_BYTES


def test_secrets_are_scrubbed_from_the_result() -> None:
    result = {
        "error": "restic said hunter22-secret",
        "repositories": [{"error": "hunter22-secret"}],
    }
    assert "hunter22-secret" not in json.dumps(finalize(result, ["hunter22-secret"]))


def test_the_result_file_holds_the_same_json_as_the_last_stdout_line(tmp_path: Path) -> None:
    result_file = tmp_path / "termination-log"
    spec = json.dumps({"name": "r", "storage": {"provider": "local", "local": {"mountPath": "/x"}}})
    made = executor(
        "init-repository", "--repository", spec, "--result-file", str(result_file), env={}
    )
    assert json.loads(result_file.read_text()) == made.result
    assert set(made.result) >= {"kind", "version", "phase", "error", "startTime", "endTime"}


def test_a_failing_backup_to_many_long_named_repositories_fits_4096_bytes(
    tmp_path: Path,
) -> None:
    repos = [str(tmp_path / ("missing-" + "r" * 150 + f"-{i}")) for i in range(40)]
    result_file = tmp_path / "result.json"
    args = [arg for repo in repos for arg in ("--repository", repo)]
    made = executor(
        "backup",
        "--zookeeper",
        "127.0.0.1:1",
        *args,
        "--result-file",
        str(result_file),
        env={"RESTIC_PASSWORD": "pw-many", "RESTIC_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert made.code == 1
    assert len(result_file.read_bytes()) <= MAX_BYTES
    assert "no restic repository" in json.loads(result_file.read_bytes())["error"]


def test_secrets_never_appear_in_any_output(
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    restic_repository: LocalResticRepository,
    s3_server: S3Server,
    s3_prefix: str,
    tmp_path: Path,
) -> None:
    """Planted secret values, through a success and several failures: stdout, stderr, file."""
    seed(zk_client, zk_root, count=5)
    planted_s3_secret = "planted-s3-secret-9c1e"
    result_file = tmp_path / "result.json"
    outputs = []
    runs = [
        # success: the right password, and an unrelated secret that must not leak either
        (
            "backup",
            "--zookeeper",
            zookeeper.hosts,
            "--auth",
            "digest",
            "--root",
            zk_root,
            "--repository",
            str(restic_repository.path),
        ),
        # failure at the storage: wrong S3 secret
        (
            "backup",
            "--zookeeper",
            zookeeper.hosts,
            "--auth",
            "digest",
            "--root",
            zk_root,
            "--repository",
            s3_server.restic_repository(s3_prefix),
        ),
        # failure at ZooKeeper (wrong digest password is only known to the server)
        (
            "restore",
            "--zookeeper",
            zookeeper.hosts,
            "--auth",
            "digest",
            "--repository",
            str(restic_repository.path),
            "--dry-run",
        ),
    ]
    env = {
        **ZK_ENV,
        **restic_repository.env(),
        "AWS_ACCESS_KEY_ID": s3_server.access_key,
        "AWS_SECRET_ACCESS_KEY": planted_s3_secret,
        "REPO7_AZURE_ACCOUNT_KEY": "planted-azure-key-5d2a",
    }
    for args in runs:
        made = executor(*args, "--result-file", str(result_file), env=env)
        outputs += [made.stdout, made.stderr, result_file.read_text()]
    wrong_password = executor(*runs[0], env={**env, "RESTIC_PASSWORD": "planted-wrong-password-77"})
    outputs += [wrong_password.stdout, wrong_password.stderr]
    everything = "\n".join(outputs)
    for secret in (
        restic_repository.password,
        planted_s3_secret,
        ZK_ENV["ZK_PASSWORD"],
        "planted-azure-key-5d2a",
        "planted-wrong-password-77",
    ):
        assert secret not in everything
