"""`executor backup` / `restore` end to end: real ZooKeeper, real restic, real S3 (SeaweedFS)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from kazoo.client import KazooClient
from kazoo.security import ACL, Id, make_digest_acl_credential

from executor.restic import STREAM_FILENAME
from executor.stream import AclEntry, StreamReader
from tests.infra.s3 import S3Server
from tests.infra.s3_fixtures import LocalResticRepository
from tests.infra.zookeeper import SUPER_PASSWORD, SUPER_USER, ZooKeeperServer

ZK_ENV = {"ZK_USERNAME": SUPER_USER, "ZK_PASSWORD": SUPER_PASSWORD}


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def result(self) -> dict:
        """The result object: the last stdout line."""
        return json.loads(self.stdout.strip().splitlines()[-1])


def executor(*args: str, env: dict[str, str]) -> Run:
    """Run the real `executor` command line in a child process."""
    base = {key: os.environ[key] for key in ("PATH", "HOME", "TMPDIR") if key in os.environ}
    done = subprocess.run(
        [sys.executable, "-m", "executor", *args, "--log-format", "json"],
        env={**base, "PYTHONPATH": str(Path.cwd()), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def seed(client: KazooClient, root: str, count: int = 50, size: int = 100) -> dict[str, bytes]:
    """`count` children under `root` with distinct values; returns path → data."""
    nodes = {f"{root}/node-{i:04d}": f"value {i} ".encode() * (size // 8) for i in range(count)}
    client.ensure_path(root)
    paths = list(nodes)
    for start in range(0, len(paths), 50):  # batches stay well below jute.maxbuffer (1 MiB)
        transaction = client.transaction()
        for path in paths[start : start + 50]:
            transaction.create(path, nodes[path])
        transaction.commit()
    return nodes


def backup(
    zookeeper: ZooKeeperServer,
    root: str,
    *repos: str,
    env: dict[str, str],
    options: tuple[str, ...] = (),
) -> Run:
    """`executor backup` of `root` (digest auth as the super user) into `repos`, with `options`."""
    repo_args = [arg for repo in repos for arg in ("--repository", repo)]
    return executor(
        "backup",
        "--zookeeper",
        zookeeper.hosts,
        "--auth",
        "digest",
        "--root",
        root,
        *repo_args,
        *options,
        env={**ZK_ENV, **env},
    )


def test_backup_then_restore_round_trips_through_a_local_repository(
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    restic_repository: LocalResticRepository,
) -> None:
    nodes = seed(zk_client, zk_root)
    made = backup(zookeeper, zk_root, str(restic_repository.path), env=restic_repository.env())
    assert made.code == 0, made.stderr
    assert made.result["phase"] == "Succeeded"
    assert made.result["stream"]["znodes"] == len(nodes) + 1
    snapshot_id = made.result["repositories"][0]["snapshotId"]
    assert restic_repository.snapshot_ids() == [snapshot_id]

    target = zk_root + "-restored"
    restored = executor(
        "restore",
        "--zookeeper",
        zookeeper.hosts,
        "--auth",
        "digest",
        "--repository",
        str(restic_repository.path),
        "--snapshot",
        "latest",
        "--target-root",
        target,
        env={**ZK_ENV, **restic_repository.env()},
    )
    assert restored.code == 0, restored.stderr
    assert restored.result["kind"] == "RestoreResult"
    assert restored.result["snapshotId"] == snapshot_id
    assert restored.result["znodes"]["created"] == len(nodes) + 1
    for path, data in nodes.items():
        assert zk_client.get(path.replace(zk_root, target, 1))[0] == data


def test_backup_into_two_repositories_stores_the_same_stream_in_both(
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    restic_repository: LocalResticRepository,
    second_restic_repository: LocalResticRepository,
) -> None:
    seed(zk_client, zk_root)
    first = json.dumps(
        {
            "name": "one",
            "storage": {
                "provider": "local",
                "local": {"mountPath": str(restic_repository.path.parent / "one")},
            },
            "envPrefix": "REPO0_",
        }
    )
    second = json.dumps(
        {
            "name": "two",
            "storage": {
                "provider": "local",
                "local": {"mountPath": str(restic_repository.path.parent / "two")},
            },
            "envPrefix": "REPO1_",
        }
    )
    env = {"REPO0_RESTIC_PASSWORD": "first-pass", "REPO1_RESTIC_PASSWORD": "second-pass"}
    for spec in (first, second):
        init = executor("init-repository", "--repository", spec, "--session", "daily", env=env)
        assert init.code == 0, init.stdout
    made = executor(
        "backup",
        "--zookeeper",
        zookeeper.hosts,
        "--auth",
        "digest",
        "--root",
        zk_root,
        "--repository",
        first,
        "--repository",
        second,
        "--session",
        "daily",
        env={**ZK_ENV, **env},
    )
    assert made.code == 0, made.stdout
    repos = made.result["repositories"]
    assert [(r["name"], r["phase"]) for r in repos] == [("one", "Succeeded"), ("two", "Succeeded")]
    streams = []
    for name, password, repo in zip(
        ("one", "two"), ("first-pass", "second-pass"), repos, strict=True
    ):
        path = restic_repository.path.parent / name / "repository/v1/daily/dump"
        local = LocalResticRepository(path, password, restic_repository.cache_dir)
        streams.append(local.dump(repo["snapshotId"], "/" + STREAM_FILENAME))
    assert streams[0] == streams[1]
    assert len(streams[0]) == made.result["stream"]["bytes"]


def test_backup_to_s3_follows_the_kubestash_layout(
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    s3_server: S3Server,
    s3_prefix: str,
) -> None:
    seed(zk_client, zk_root)
    storage = {
        "provider": "s3",
        "s3": {"endpoint": s3_server.endpoint, "bucket": s3_server.bucket, "prefix": s3_prefix},
    }
    spec = json.dumps(
        {"name": "s3-repo", "storage": storage, "path": "/zookeeper", "envPrefix": "REPO0_"}
    )
    env = {**s3_server.credentials_env("REPO0_"), "REPO0_RESTIC_PASSWORD": "s3-repo-pass"}
    assert (
        executor(
            "init-storage", "--storage", json.dumps(storage), "--env-prefix", "REPO0_", env=env
        ).code
        == 0
    )
    assert (
        executor(
            "init-repository", "--repository", spec, "--session", "frequent-backup", env=env
        ).code
        == 0
    )
    made = executor(
        "backup",
        "--zookeeper",
        zookeeper.hosts,
        "--auth",
        "digest",
        "--root",
        zk_root,
        "--repository",
        spec,
        "--session",
        "frequent-backup",
        env={**ZK_ENV, **env},
    )
    assert made.code == 0, made.stdout
    plain = s3_server.restic_repository(f"{s3_prefix}/zookeeper/repository/v1/frequent-backup/dump")
    listed = executor(
        "snapshots",
        "--repository",
        plain,
        "-o",
        "json",
        env={**s3_server.credentials_env(), "RESTIC_PASSWORD": "s3-repo-pass"},
    )
    ids = [item["id"] for item in json.loads(listed.stdout.splitlines()[0])]
    assert ids == [made.result["repositories"][0]["snapshotId"]]


def test_a_wrong_s3_secret_fails_with_one_clear_sentence(
    zookeeper: ZooKeeperServer, zk_root: str, s3_server: S3Server, s3_prefix: str
) -> None:
    repository = s3_server.restic_repository(s3_prefix)
    env = {
        "AWS_ACCESS_KEY_ID": s3_server.access_key,
        "AWS_SECRET_ACCESS_KEY": "wrong-secret-value-123",
        "RESTIC_PASSWORD": "pw-for-s3",
    }
    made = backup(zookeeper, "/", repository, env=env)
    assert made.code == 1
    assert made.result["phase"] == "Failed"
    assert "rejected the credentials" in made.result["error"]
    assert "Traceback" not in made.stderr
    assert "wrong-secret-value-123" not in made.stdout + made.stderr


def test_a_wrong_restic_password_fails_and_writes_nothing(
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    restic_repository: LocalResticRepository,
) -> None:
    seed(zk_client, zk_root)
    made = backup(
        zookeeper,
        zk_root,
        str(restic_repository.path),
        env={
            "RESTIC_PASSWORD": "not-the-password",
            "RESTIC_CACHE_DIR": str(restic_repository.cache_dir),
        },
    )
    assert made.code == 1
    assert "wrong repository password" in made.result["error"]
    assert made.result["repositories"][0]["phase"] == "Failed"
    assert restic_repository.snapshot_ids() == []


def test_a_dump_failing_midway_leaves_no_snapshot_in_any_repository(
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    restic_repository: LocalResticRepository,
    second_restic_repository: LocalResticRepository,
) -> None:
    # 3 MiB of readable nodes first (more than one fan-out chunk reaches restic), then a node
    # only another user may read: the dump, connected without credentials, fails right there.
    seed(zk_client, zk_root, count=300, size=10_000)
    secret_acl = ACL(31, Id("digest", make_digest_acl_credential("someone", "else")))
    zk_client.create(f"{zk_root}/zz-private", b"hidden", acl=[secret_acl])
    made = executor(
        "backup",
        "--zookeeper",
        zookeeper.hosts,
        "--root",
        zk_root,
        "--repository",
        str(restic_repository.path),
        "--repository",
        str(second_restic_repository.path),
        env={
            "RESTIC_PASSWORD": restic_repository.password,
            "RESTIC_CACHE_DIR": str(restic_repository.cache_dir),
        },
    )
    assert made.code == 1
    assert "not authorized to read" in made.result["error"]
    assert "no snapshot was kept" in made.result["error"]
    assert [r["phase"] for r in made.result["repositories"]] == ["Failed", "Failed"]
    assert restic_repository.snapshot_ids() == []
    assert second_restic_repository.snapshot_ids() == []


def test_an_unreachable_zookeeper_is_one_sentence_and_no_snapshot(
    restic_repository: LocalResticRepository,
) -> None:
    made = executor(
        "backup",
        "--zookeeper",
        "127.0.0.1:1",
        "--timeout",
        "2",
        "--repository",
        str(restic_repository.path),
        env=restic_repository.env(),
    )
    assert made.code == 1
    assert "cannot connect to ZooKeeper at 127.0.0.1:1" in made.result["error"]
    assert "Traceback" not in made.stderr
    assert restic_repository.snapshot_ids() == []


def test_bad_spec_json_is_a_usage_error_without_traceback() -> None:
    made = executor(
        "backup",
        "--zookeeper",
        "127.0.0.1:2181",
        "--repository",
        '{"name": "x", "storage":',
        "--session",
        "daily",
        env={},
    )
    assert made.code == 2
    assert made.result["error"].startswith("--repository is not valid JSON")
    assert "Traceback" not in made.stderr


def test_restoring_an_unknown_snapshot_fails_clearly(
    zookeeper: ZooKeeperServer, restic_repository: LocalResticRepository
) -> None:
    made = executor(
        "restore",
        "--zookeeper",
        zookeeper.hosts,
        "--repository",
        str(restic_repository.path),
        "--snapshot",
        "deadbeef",
        env=restic_repository.env(),
    )
    assert made.code == 1
    assert (
        made.result["error"]
        == f"snapshot 'deadbeef' not found in repository {restic_repository.path}"
    )


def logged(run: Run, needle: str) -> list[str]:
    return [json.loads(line)["msg"] for line in run.stderr.splitlines() if needle in line]


def stored_records(repo: LocalResticRepository, snapshot_id: str) -> list:
    stream = repo.dump(snapshot_id, "/" + STREAM_FILENAME)
    return list(StreamReader(io.BytesIO(stream)))


def test_a_second_backup_takes_unchanged_acls_from_the_first_and_stores_the_same_tree(
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    restic_repository: LocalResticRepository,
) -> None:
    seed(zk_client, zk_root)
    zk_client.set_acls(f"{zk_root}/node-0000", [ACL(1, Id("world", "anyone"))])
    first = backup(zookeeper, zk_root, str(restic_repository.path), env=restic_repository.env())
    zk_client.set_acls(f"{zk_root}/node-0001", [ACL(1, Id("world", "anyone"))])
    second = backup(zookeeper, zk_root, str(restic_repository.path), env=restic_repository.env())
    assert (first.code, second.code) == (0, 0), second.stderr
    assert logged(first, "ACL") == []  # an empty repository has no previous snapshot to ask
    assert logged(second, "ACLs taken") == [
        "50 of 51 ACLs taken from the previous snapshot (unchanged since); 1 read from ZooKeeper"
    ]
    snapshots = [run.result["repositories"][0]["snapshotId"] for run in (first, second)]
    first_records, second_records = (stored_records(restic_repository, s) for s in snapshots)
    assert [r.acl for r in second_records][1:3] == [(AclEntry(1, "world", "anyone"),)] * 2
    assert [r for r in second_records if r.path != f"{zk_root}/node-0001"] == [
        r for r in first_records if r.path != f"{zk_root}/node-0001"
    ]


def test_read_all_acls_asks_zookeeper_for_every_acl(
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    restic_repository: LocalResticRepository,
) -> None:
    seed(zk_client, zk_root, count=5)
    repo = str(restic_repository.path)
    assert backup(zookeeper, zk_root, repo, env=restic_repository.env()).code == 0
    again = backup(
        zookeeper, zk_root, repo, env=restic_repository.env(), options=("--read-all-acls",)
    )
    assert again.code == 0, again.stderr
    assert logged(again, "ACLs taken") == []
