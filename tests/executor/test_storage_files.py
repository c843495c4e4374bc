"""metadata.yaml and repository.yaml on a local backend and on real S3 (SeaweedFS, via rclone)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml

from executor.storage_files import (
    METADATA_FILE,
    BackendFiles,
    StorageFileError,
    ensure_backend_meta,
    register_repository,
    repository_entry,
    write_repository_file,
)
from tests.executor.test_cli import executor
from tests.infra.s3 import S3Server

NOW = dt.datetime(2026, 11, 25, 10, 0, 0, tzinfo=dt.UTC)


def s3_storage(server: S3Server, prefix: str) -> dict:
    return {
        "provider": "s3",
        "s3": {"endpoint": server.endpoint, "bucket": server.bucket, "prefix": prefix},
    }


def test_local_metadata_is_a_backend_meta(tmp_path: Path) -> None:
    files = BackendFiles({"provider": "local", "local": {"mountPath": str(tmp_path)}}, {})
    assert ensure_backend_meta(files, NOW) is True
    assert yaml.safe_load((tmp_path / METADATA_FILE).read_text()) == {
        "apiVersion": "config.kubestash.com/v1alpha1",
        "kind": "BackendMeta",
        "creationTimestamp": "2026-11-25T10:00:00Z",
        "operatorVersion": "zkstash-0.1.0",
        "repositories": [],
    }


def test_existing_metadata_keeps_its_repository_list(tmp_path: Path) -> None:
    existing = "kind: BackendMeta\nrepositories:\n- {name: old-repo, path: /zookeeper}\n"
    (tmp_path / METADATA_FILE).write_text(existing)
    files = BackendFiles({"provider": "local", "local": {"mountPath": str(tmp_path)}}, {})
    assert ensure_backend_meta(files, NOW) is False
    assert (tmp_path / METADATA_FILE).read_text() == existing


def test_metadata_and_repository_files_land_under_the_s3_prefix(
    s3_server: S3Server, s3_prefix: str
) -> None:
    files = BackendFiles(s3_storage(s3_server, s3_prefix), s3_server.credentials_env())
    assert ensure_backend_meta(files, NOW) is True
    key = write_repository_file(files, "s3-repo", "/zookeeper", NOW)
    assert key == "zookeeper/repository.yaml"
    assert yaml.safe_load(files.read(METADATA_FILE) or b"")["kind"] == "BackendMeta"
    assert yaml.safe_load(files.read(key) or b"")["metadata"]["name"] == "s3-repo"
    assert ensure_backend_meta(files, NOW) is False


def test_a_wrong_s3_secret_is_a_clear_error_without_the_secret(
    s3_server: S3Server, s3_prefix: str
) -> None:
    env = {"AWS_ACCESS_KEY_ID": s3_server.access_key, "AWS_SECRET_ACCESS_KEY": "bad-secret-41x"}
    files = BackendFiles(s3_storage(s3_server, s3_prefix), env)
    with pytest.raises(StorageFileError) as caught:
        files.write(METADATA_FILE, b"kind: BackendMeta\n")
    assert "rejected the credentials" in str(caught.value)
    assert "bad-secret-41x" not in str(caught.value)


def test_init_storage_command_writes_metadata_with_prefixed_credentials(
    s3_server: S3Server, s3_prefix: str
) -> None:
    storage = s3_storage(s3_server, s3_prefix)
    made = executor(
        "init-storage",
        "--storage",
        json.dumps(storage),
        "--env-prefix",
        "STORAGE_",
        env=s3_server.credentials_env("STORAGE_"),
    )
    assert made.code == 0, made.stdout
    assert made.result["kind"] == "InitResult"
    assert made.result["metadataWritten"] is True
    files = BackendFiles(storage, s3_server.credentials_env())
    assert files.read(METADATA_FILE) is not None


def test_init_storage_rejects_a_storage_without_bucket() -> None:
    made = executor(
        "init-storage", "--storage", '{"provider": "s3", "s3": {"endpoint": "http://h"}}', env={}
    )
    assert made.code == 2
    assert made.result["error"] == "--storage.s3.bucket is required"


def local_files(mount: Path) -> BackendFiles:
    return BackendFiles({"provider": "local", "local": {"mountPath": str(mount)}}, {})


def test_registering_a_repository_keeps_the_other_entries_sorted(tmp_path: Path) -> None:
    (tmp_path / METADATA_FILE).write_text(
        "apiVersion: config.kubestash.com/v1alpha1\n"
        "kind: BackendMeta\n"
        "creationTimestamp: '2026-01-01T00:00:00Z'\n"
        "operatorVersion: v2024.9.30\n"
        "repositories:\n"
        "- {name: zeta-repo, namespace: prod, path: /zeta, size: 1.2 MiB}\n"
        "- {name: alpha-repo, namespace: prod, path: /alpha}\n"
    )
    entry = repository_entry("s3-repo", "demo", "zookeeper")
    assert register_repository(local_files(tmp_path), entry, NOW) is True
    document = yaml.safe_load((tmp_path / METADATA_FILE).read_text())
    assert document == {
        "apiVersion": "config.kubestash.com/v1alpha1",
        "kind": "BackendMeta",
        "creationTimestamp": "2026-01-01T00:00:00Z",
        "operatorVersion": "v2024.9.30",
        "repositories": [
            {"name": "s3-repo", "namespace": "demo", "path": "/zookeeper"},
            {"name": "alpha-repo", "namespace": "prod", "path": "/alpha"},
            {"name": "zeta-repo", "namespace": "prod", "path": "/zeta", "size": "1.2 MiB"},
        ],
    }


def test_registering_the_same_repository_again_leaves_the_file_as_it_is(tmp_path: Path) -> None:
    files = local_files(tmp_path)
    entry = repository_entry("s3-repo", "demo", "/zookeeper")
    assert register_repository(files, entry, NOW) is True
    written = (tmp_path / METADATA_FILE).read_bytes()
    later = NOW + dt.timedelta(hours=1)
    assert register_repository(files, entry, later) is False
    assert (tmp_path / METADATA_FILE).read_bytes() == written


def test_a_repository_entry_is_replaced_by_name_and_by_path(tmp_path: Path) -> None:
    files = local_files(tmp_path)
    register_repository(files, repository_entry("s3-repo", "demo", "/old-path"), NOW)
    register_repository(files, repository_entry("old-name", "demo", "/zookeeper"), NOW)
    register_repository(files, repository_entry("s3-repo", "demo", "/zookeeper"), NOW)
    document = yaml.safe_load((tmp_path / METADATA_FILE).read_text())
    assert document["repositories"] == [
        {"name": "s3-repo", "namespace": "demo", "path": "/zookeeper"}
    ]


def test_without_metadata_yaml_registering_creates_the_backend_meta(tmp_path: Path) -> None:
    register_repository(local_files(tmp_path), repository_entry("r", "", "/zk"), NOW)
    document = yaml.safe_load((tmp_path / METADATA_FILE).read_text())
    assert document["kind"] == "BackendMeta"
    assert document["creationTimestamp"] == "2026-11-25T10:00:00Z"
    assert document["repositories"] == [{"name": "r", "path": "/zk"}]


def test_a_metadata_yaml_that_is_not_yaml_is_named_and_kept(tmp_path: Path) -> None:
    (tmp_path / METADATA_FILE).write_text("kind: BackendMeta\nrepositories: [unclosed\n")
    with pytest.raises(StorageFileError) as caught:
        register_repository(local_files(tmp_path), repository_entry("r", "d", "/zk"), NOW)
    assert str(caught.value) == "metadata.yaml is not valid YAML at line 3; fix or remove it"
    assert "unclosed" in (tmp_path / METADATA_FILE).read_text()


def test_a_repository_is_registered_in_the_s3_metadata(s3_server: S3Server, s3_prefix: str) -> None:
    files = BackendFiles(s3_storage(s3_server, s3_prefix), s3_server.credentials_env())
    ensure_backend_meta(files, NOW)
    register_repository(files, repository_entry("s3-repo", "demo", "/zookeeper"), NOW)
    register_repository(files, repository_entry("other-repo", "demo", "/other"), NOW)
    document = yaml.safe_load(files.read(METADATA_FILE) or b"")
    assert document["repositories"] == [
        {"name": "other-repo", "namespace": "demo", "path": "/other"},
        {"name": "s3-repo", "namespace": "demo", "path": "/zookeeper"},
    ]
