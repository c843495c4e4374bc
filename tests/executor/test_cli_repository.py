"""Repository commands end to end with real restic: init-repository, forget, verify, snapshots."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from kazoo.client import KazooClient

from tests.executor.test_cli import backup, executor, seed
from tests.infra.s3_fixtures import LocalResticRepository
from tests.infra.zookeeper import ZooKeeperServer


def local_spec(mount: Path, name: str = "local-repo") -> str:
    storage = {"provider": "local", "local": {"mountPath": str(mount)}}
    return json.dumps({"name": name, "storage": storage, "path": "/zookeeper"})


def test_init_repository_is_idempotent(tmp_path: Path) -> None:
    spec = local_spec(tmp_path / "backend")
    env = {"RESTIC_PASSWORD": "init-pass", "RESTIC_CACHE_DIR": str(tmp_path / "cache")}
    first = executor("init-repository", "--repository", spec, "--session", "daily", env=env)
    again = executor("init-repository", "--repository", spec, "--session", "daily", env=env)
    assert (first.code, first.result["created"]) == (0, 1)
    assert (again.code, again.result["created"]) == (0, 0)
    assert (tmp_path / "backend/zookeeper/repository/v1/daily/dump/config").is_file()


def test_init_repository_writes_repository_yaml(tmp_path: Path) -> None:
    spec = local_spec(tmp_path / "backend")
    env = {"RESTIC_PASSWORD": "init-pass", "RESTIC_CACHE_DIR": str(tmp_path / "cache")}
    assert (
        executor("init-repository", "--repository", spec, "--session", "daily", env=env).code == 0
    )
    document = yaml.safe_load((tmp_path / "backend/zookeeper/repository.yaml").read_text())
    assert document["kind"] == "Repository"
    assert document["metadata"]["name"] == "local-repo"
    assert document["spec"]["path"] == "/zookeeper"


def test_init_repository_lists_the_repository_in_metadata_yaml(tmp_path: Path) -> None:
    spec = local_spec(tmp_path / "backend")
    env = {"RESTIC_PASSWORD": "init-pass", "RESTIC_CACHE_DIR": str(tmp_path / "cache")}
    made = executor(
        "init-repository",
        "--repository",
        spec,
        "--session",
        "daily",
        "--namespace",
        "demo",
        env=env,
    )
    assert made.code == 0, made.stdout
    document = yaml.safe_load((tmp_path / "backend/metadata.yaml").read_text())
    assert document["kind"] == "BackendMeta"
    assert document["repositories"] == [
        {"name": "local-repo", "namespace": "demo", "path": "/zookeeper"}
    ]


def test_init_repository_with_a_wrong_password_is_a_clear_error(
    restic_repository: LocalResticRepository,
) -> None:
    made = executor(
        "init-repository",
        "--repository",
        str(restic_repository.path),
        env={
            "RESTIC_PASSWORD": "another-password",
            "RESTIC_CACHE_DIR": str(restic_repository.cache_dir),
        },
    )
    assert made.code == 1
    assert made.result["error"].startswith("wrong repository password for repository")


def test_a_missing_restic_password_is_a_usage_error(
    restic_repository: LocalResticRepository,
) -> None:
    made = executor("snapshots", "--repository", str(restic_repository.path), env={})
    assert made.code == 2
    assert "RESTIC_PASSWORD is not set" in made.result["error"]


def test_forget_removes_exactly_one_snapshot(
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    restic_repository: LocalResticRepository,
) -> None:
    seed(zk_client, zk_root, count=5)
    repo = str(restic_repository.path)
    ids = [
        backup(zookeeper, zk_root, repo, env=restic_repository.env()).result["repositories"][0][
            "snapshotId"
        ]
        for _ in range(2)
    ]
    forgot = executor(
        "forget", "--repository", repo, "--snapshot", ids[0][:8], env=restic_repository.env()
    )
    assert forgot.code == 0, forgot.stdout
    assert forgot.result["snapshotId"] == ids[0]
    assert restic_repository.snapshot_ids() == [ids[1]]


def test_snapshots_lists_json_on_request(
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    restic_repository: LocalResticRepository,
) -> None:
    seed(zk_client, zk_root, count=3)
    made = backup(zookeeper, zk_root, str(restic_repository.path), env=restic_repository.env())
    listed = executor(
        "snapshots",
        "--repository",
        str(restic_repository.path),
        "-o",
        "json",
        env=restic_repository.env(),
    )
    items = json.loads(listed.stdout.splitlines()[0])
    assert [item["id"] for item in items] == [made.result["repositories"][0]["snapshotId"]]
    assert "zkstash" in items[0]["tags"]


def test_verify_accepts_a_good_snapshot_and_detects_a_corrupted_repository(
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    restic_repository: LocalResticRepository,
) -> None:
    seed(zk_client, zk_root, count=20)
    made = backup(zookeeper, zk_root, str(restic_repository.path), env=restic_repository.env())
    args = ("verify", "--repository", str(restic_repository.path))
    good = executor(*args, env=restic_repository.env())
    assert good.code == 0, good.stdout
    assert good.result["stream"]["sha256"] == made.result["stream"]["sha256"]

    for pack in (restic_repository.path / "data").rglob("*"):
        if pack.is_file():
            content = bytearray(pack.read_bytes())
            content[len(content) // 2] ^= 0xFF  # one flipped byte inside every pack
            pack.chmod(0o644)
            pack.write_bytes(bytes(content))
    bad = executor(*args, env=restic_repository.env())
    assert bad.code == 1
    assert bad.result["phase"] == "Failed"
    assert "is damaged" in bad.result["error"]
    assert "Traceback" not in bad.stderr
