"""The restic driver against real restic 0.14: arguments, credential files, errors, lookups."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from executor.backends import Repository, base_environment
from executor.restic import (
    ResticError,
    ResticRepository,
    SnapshotNotFound,
    explain,
    parse_backup_output,
)
from tests.infra.s3_fixtures import LocalResticRepository


def driver(repo: LocalResticRepository, **env: str) -> ResticRepository:
    spec = Repository(name="r", url=str(repo.path), env={**repo.env(), **env})
    return ResticRepository(spec, {**base_environment(os.environ), **repo.env()})


def test_no_secret_is_ever_an_argument(restic_repository: LocalResticRepository) -> None:
    with driver(restic_repository, CA_CERT_DATA="-----BEGIN CERT-----secret-pem") as repo:
        command = repo.command("snapshots")
        assert restic_repository.password not in " ".join(command)
        assert str(restic_repository.path) not in command  # the URL goes in RESTIC_REPOSITORY
        assert "secret-pem" not in " ".join(command)


def test_ca_cert_data_becomes_a_private_file_for_the_context_only(
    restic_repository: LocalResticRepository,
) -> None:
    with driver(restic_repository, CA_CERT_DATA="pem-data") as repo:
        command = repo.command("snapshots")
        ca_file = Path(command[command.index("--cacert") + 1])
        assert ca_file.read_text() == "pem-data"
        assert ca_file.stat().st_mode & 0o777 == 0o600
    assert not ca_file.exists()


def test_a_wrong_password_is_named_as_such(restic_repository: LocalResticRepository) -> None:
    with (
        driver(restic_repository, RESTIC_PASSWORD="wrong-one") as repo,
        pytest.raises(ResticError, match=r"^wrong repository password for repository r"),
    ):
        repo.snapshots()


def test_latest_of_an_empty_repository_is_not_found(
    restic_repository: LocalResticRepository,
) -> None:
    with driver(restic_repository) as repo, pytest.raises(SnapshotNotFound, match="no snapshots"):
        repo.resolve("latest")


def test_backup_summary_is_read_from_real_json_output(
    restic_repository: LocalResticRepository, tmp_path: Path
) -> None:
    data = tmp_path / "data.bin"
    data.write_bytes(b"z" * 10_000)
    with data.open("rb") as stdin:
        env = {
            "PATH": "/usr/bin:/bin",
            "RESTIC_REPOSITORY": str(restic_repository.path),
            **restic_repository.env(),
        }
        done = subprocess.run(
            ["restic", "backup", "--stdin", "--json"],
            stdin=stdin,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    summary = parse_backup_output(done.stdout)
    assert summary is not None
    assert summary.bytes_processed == 10_000
    assert len(summary.short_id) == 8  # restic 0.14 reports the short id only
    with driver(restic_repository) as repo:
        assert repo.resolve(summary.short_id).id.startswith(summary.short_id)
        assert repo.resolve("latest").short_id == summary.short_id


def test_an_unknown_s3_access_key_is_named_as_rejected_credentials_not_a_missing_repository():
    # restic 0.14 adds its "Is there a repository" hint to every failure to open the config
    stderr = (
        "Fatal: unable to open config file: Stat: The access key ID you provided does not "
        "exist in our records.\nIs there a repository at the following location?\n"
        "s3:http://127.0.0.1:8333/zkstash-test/x\n"
    )
    assert explain(stderr, "repository r") == (
        "the storage of repository r rejected the credentials (check the access keys)"
    )
