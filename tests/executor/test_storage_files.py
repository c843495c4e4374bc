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
