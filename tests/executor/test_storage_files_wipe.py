"""`executor wipe-storage` (BackupStorage WipeOut) on a local backend and on real S3 (SeaweedFS)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

from executor.storage_files import BackendFiles
from tests.executor.test_cli import Run, executor
from tests.infra.s3 import S3Server

BACKEND_FILES = {
    "metadata.yaml": b"kind: BackendMeta\n",
    "zookeeper/repository.yaml": b"kind: Repository\n",
    "zookeeper/repository/v1/daily/dump/config": b"restic config",
    "zookeeper/repository/v1/daily/dump/data/3f/3f00": b"pack",
}


def local_storage(mount: Path) -> dict:
    return {"provider": "local", "local": {"mountPath": str(mount)}}


def s3_storage(server: S3Server, prefix: str, bucket: str | None = None) -> dict:
    config = {"endpoint": server.endpoint, "bucket": bucket or server.bucket, "prefix": prefix}
    return {"provider": "s3", "s3": config}


def wipe(storage: dict, env: dict[str, str] | None = None, *extra: str) -> Run:
    return executor("wipe-storage", "--storage", json.dumps(storage), *extra, env=env or {})


def fill_local(mount: Path) -> None:
    for key, content in BACKEND_FILES.items():
        path = mount / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    (mount / "zookeeper/repository/v1/daily/dump/data/3f/3f00").chmod(0o400)  # as restic does


def fill(files: BackendFiles) -> None:
    for key, content in BACKEND_FILES.items():
        files.write(key, content)


def rclone_s3(server: S3Server, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "RCLONE_CONFIG": "/dev/null",
        "RCLONE_S3_PROVIDER": "Other",
        "RCLONE_S3_ENDPOINT": server.endpoint,
        "RCLONE_S3_ACCESS_KEY_ID": server.access_key,
        "RCLONE_S3_SECRET_ACCESS_KEY": server.secret_key,
    }
    return subprocess.run(["rclone", *args], env=env, capture_output=True, text=True, check=True)


# ----------------------------------------------------------------------------- local


def test_local_wipe_empties_the_mount_path_but_keeps_the_mount_point(tmp_path: Path) -> None:
    mount = tmp_path / "backend"
    fill_local(mount)
    made = wipe(local_storage(mount))
    assert made.code == 0, made.stdout
    assert made.result["kind"] == "WipeResult"
    assert made.result["removed"] is True
    assert mount.is_dir()
    assert list(mount.iterdir()) == []


def test_local_wipe_run_again_succeeds_with_nothing_removed(tmp_path: Path) -> None:
    mount = tmp_path / "backend"
    fill_local(mount)
    assert wipe(local_storage(mount)).code == 0
    again = wipe(local_storage(mount))
    assert (again.code, again.result["phase"], again.result["removed"]) == (0, "Succeeded", False)


def test_local_wipe_of_a_missing_mount_path_succeeds(tmp_path: Path) -> None:
    made = wipe(local_storage(tmp_path / "never-created"))
    assert (made.code, made.result["removed"]) == (0, False)


def test_a_fresh_volume_with_only_empty_directories_has_nothing_to_wipe(tmp_path: Path) -> None:
    mount = tmp_path / "fresh-volume"
    (mount / "lost+found").mkdir(parents=True)
    made = wipe(local_storage(mount))
    assert (made.code, made.result["removed"]) == (0, False)
    assert (mount / "lost+found").is_dir()


def test_local_wipe_refuses_a_directory_without_metadata_yaml(tmp_path: Path) -> None:
    mount = tmp_path / "not-a-backend"
    mount.mkdir()
    (mount / "notes.txt").write_text("someone else's data")
    made = wipe(local_storage(mount))
    assert made.code == 1
    assert made.result["error"] == (
        f"refusing to wipe {mount}: it holds no metadata.yaml, so it is not the root of a "
        "backup storage (check the storage spec, or remove the data by hand)"
    )
    assert (mount / "notes.txt").read_text() == "someone else's data"


def test_local_wipe_refuses_a_mount_path_that_resolves_to_the_root(tmp_path: Path) -> None:
    (tmp_path / "link-to-root").symlink_to("/")
    made = wipe(local_storage(tmp_path / "link-to-root"))
    assert made.code == 1
    assert made.result["error"].endswith("local.mountPath resolves to the file system root")


def test_local_wipe_removes_symlinks_without_following_them(tmp_path: Path) -> None:
    mount, outside = tmp_path / "backend", tmp_path / "outside"
    fill_local(mount)
    outside.mkdir()
    (outside / "keep.txt").write_text("kept")
    (mount / "link").symlink_to(outside)
    assert wipe(local_storage(mount)).code == 0
    assert list(mount.iterdir()) == []
    assert (outside / "keep.txt").read_text() == "kept"


def test_wiping_a_rest_storage_is_a_usage_error() -> None:
    made = wipe({"provider": "rest", "rest": {"url": "http://127.0.0.1:8000"}})
    assert made.code == 2
    assert made.result["error"].startswith("--storage.provider rest cannot be wiped")


# ----------------------------------------------------------------------------- s3


def test_s3_wipe_removes_the_prefix_and_nothing_beside_it(
    s3_server: S3Server, s3_prefix: str
) -> None:
    credentials = s3_server.credentials_env()
    wiped = BackendFiles(s3_storage(s3_server, s3_prefix), credentials)
    neighbour = BackendFiles(s3_storage(s3_server, f"{s3_prefix}-neighbour"), credentials)
    fill(wiped)
    fill(neighbour)
    made = wipe(
        s3_storage(s3_server, s3_prefix),
        s3_server.credentials_env("STORAGE_"),
        "--env-prefix",
        "STORAGE_",
    )
    assert made.code == 0, made.stdout
    assert made.result["removed"] is True
    assert [wiped.read(key) for key in BACKEND_FILES] == [None] * len(BACKEND_FILES)
    assert [neighbour.read(key) for key in BACKEND_FILES] == list(BACKEND_FILES.values())


def test_s3_wipe_run_again_succeeds_with_nothing_removed(
    s3_server: S3Server, s3_prefix: str
) -> None:
    fill(BackendFiles(s3_storage(s3_server, s3_prefix), s3_server.credentials_env()))
    assert wipe(s3_storage(s3_server, s3_prefix), s3_server.credentials_env()).code == 0
    again = wipe(s3_storage(s3_server, s3_prefix), s3_server.credentials_env())
    assert (again.code, again.result["removed"]) == (0, False)


def test_s3_wipe_of_a_missing_bucket_succeeds(s3_server: S3Server) -> None:
    storage = s3_storage(s3_server, "zookeeper", bucket=f"gone-{uuid.uuid4().hex[:8]}")
    made = wipe(storage, s3_server.credentials_env())
    assert (made.code, made.result["removed"]) == (0, False)


def test_s3_wipe_without_prefix_empties_the_bucket_but_keeps_it(s3_server: S3Server) -> None:
    bucket = f"wipe-{uuid.uuid4().hex[:8]}"
    rclone_s3(s3_server, "mkdir", f":s3:{bucket}")
    fill(BackendFiles(s3_storage(s3_server, "", bucket=bucket), s3_server.credentials_env()))
    made = wipe(s3_storage(s3_server, "", bucket=bucket), s3_server.credentials_env())
    assert made.code == 0, made.stdout
    assert rclone_s3(s3_server, "lsf", "-R", f":s3:{bucket}").stdout == ""


def test_s3_wipe_refuses_a_prefix_without_metadata_yaml(
    s3_server: S3Server, s3_prefix: str
) -> None:
    files = BackendFiles(s3_storage(s3_server, s3_prefix), s3_server.credentials_env())
    files.write("other/data.bin", b"not ours")
    made = wipe(s3_storage(s3_server, s3_prefix), s3_server.credentials_env())
    assert made.code == 1
    assert made.result["error"].startswith(f"refusing to wipe :s3:{s3_server.bucket}/{s3_prefix}")
    assert files.read("other/data.bin") == b"not ours"


def test_s3_wipe_with_a_wrong_secret_is_one_sentence_without_it(
    s3_server: S3Server, s3_prefix: str
) -> None:
    secret = "wrong-secret-93q"
    fill(BackendFiles(s3_storage(s3_server, s3_prefix), s3_server.credentials_env()))
    env = {"AWS_ACCESS_KEY_ID": s3_server.access_key, "AWS_SECRET_ACCESS_KEY": secret}
    made = wipe(s3_storage(s3_server, s3_prefix), env)
    assert made.code == 1
    assert "rejected the credentials while listing" in made.result["error"]
    assert secret not in made.stdout + made.stderr
