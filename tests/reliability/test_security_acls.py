"""Restore never widens an ACL: `executor backup` and `executor restore` (the real CLI, real
ZooKeeper, real restic) put back exactly each node's saved ACL — digest, ip, world-read-only —
never world:anyone by default; parents the restore has to create get no wider ACL than the
stream's root; a dump by a user who may not read digest ids flags the `user:x` redaction."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.security import ACL, OPEN_ACL_UNSAFE, READ_ACL_UNSAFE, Id, make_digest_acl

from tests.infra.s3_fixtures import LocalResticRepository
from tests.infra.zookeeper import SUPER_PASSWORD, SUPER_USER, ZooKeeperServer

EXECUTOR = str(Path(sys.executable).parent / "executor")
ALICE = make_digest_acl("alice", "alice-password", all=True)
BOB_READS = make_digest_acl("bob", "bob-password", read=True)
LOOPBACK_ONLY = ACL(31, Id("ip", "127.0.0.1"))

# path under the test root -> the ACL it is created with
TREE_ACLS: dict[str, list[ACL]] = {
    "": [ALICE],
    "/open": OPEN_ACL_UNSAFE,
    "/open/world-reads": READ_ACL_UNSAFE,
    "/alice": [ALICE],
    "/alice/and-bob-reads": [ALICE, BOB_READS],
    "/loopback": [LOOPBACK_ONLY],
}


def run_executor(*args: str, user: str, password: str, repository: LocalResticRepository) -> dict:
    """One executor command with digest credentials from env, as a Job runs it; its result."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(repository.cache_dir),
        "ZK_USERNAME": user,
        "ZK_PASSWORD": password,
        **repository.env(),
    }
    done = subprocess.run(
        [EXECUTOR, *args, "--auth=digest", f"--repository={repository.path}", "--log-format=json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == (0 if result["phase"] == "Succeeded" else 1), done.stderr
    return {**result, "stderr": done.stderr}


def seed(client: KazooClient, root: str) -> None:
    for path, acl in TREE_ACLS.items():
        client.create(root + path, path.encode(), acl=acl)


def acls(client: KazooClient, root: str) -> dict[str, list[ACL]]:
    return {path: sorted(client.get_acls(root + path)[0]) for path in TREE_ACLS}


@pytest.mark.reliability("Security: ACLs", "restored nodes carry exactly their saved ACL")
def test_restore_puts_back_exactly_each_saved_acl(
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    restic_repository: LocalResticRepository,
) -> None:
    seed(zk_client, zk_root)
    backup = run_executor(
        "backup", f"--zookeeper={zookeeper.hosts}", f"--root={zk_root}", "--session=acl",
        user=SUPER_USER, password=SUPER_PASSWORD, repository=restic_repository,
    )  # fmt: skip
    assert backup["phase"] == "Succeeded"
    copy = f"{zk_root}-copy"
    zk_client.create(copy, b"", acl=[ALICE])
    restored = run_executor(
        "restore", f"--zookeeper={zookeeper.hosts}", f"--target-root={copy}", "--session=acl",
        user=SUPER_USER, password=SUPER_PASSWORD, repository=restic_repository,
    )  # fmt: skip
    assert restored["phase"] == "Succeeded"
    assert acls(zk_client, copy) == acls(zk_client, zk_root)
    assert acls(zk_client, copy) == {path: sorted(acl) for path, acl in TREE_ACLS.items()}


@pytest.mark.reliability("Security: ACLs", "parents the restore creates are no wider than the root")
def test_parents_the_restore_creates_get_the_stream_roots_acl_not_world(
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    restic_repository: LocalResticRepository,
) -> None:
    seed(zk_client, zk_root)
    run_executor(
        "backup", f"--zookeeper={zookeeper.hosts}", f"--root={zk_root}/alice", "--session=acl",
        user=SUPER_USER, password=SUPER_PASSWORD, repository=restic_repository,
    )  # fmt: skip
    target = f"{zk_root}-fresh/deeper/copy"
    run_executor(
        "restore", f"--zookeeper={zookeeper.hosts}", f"--target-root={target}", "--session=acl",
        user=SUPER_USER, password=SUPER_PASSWORD, repository=restic_repository,
    )  # fmt: skip
    # `-fresh` and `deeper` were not in the stream: they get the stream root's ACL (alice)
    for parent in (f"{zk_root}-fresh", f"{zk_root}-fresh/deeper"):
        assert zk_client.get_acls(parent)[0] == [ALICE], parent
    assert zk_client.get_acls(target)[0] == [ALICE]
    assert sorted(zk_client.get_acls(f"{target}/and-bob-reads")[0]) == sorted([ALICE, BOB_READS])


@pytest.mark.reliability("Security: ACLs", "an existing parent's ACL is left as it is")
def test_restore_into_an_existing_parent_leaves_its_acl(
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    restic_repository: LocalResticRepository,
) -> None:
    seed(zk_client, zk_root)
    run_executor(
        "backup", f"--zookeeper={zookeeper.hosts}", f"--root={zk_root}/open", "--session=acl",
        user=SUPER_USER, password=SUPER_PASSWORD, repository=restic_repository,
    )  # fmt: skip
    parent = f"{zk_root}-locked"
    zk_client.create(parent, b"", acl=[ALICE])
    run_executor(
        "restore", f"--zookeeper={zookeeper.hosts}", f"--target-root={parent}/copy",
        "--session=acl", user=SUPER_USER, password=SUPER_PASSWORD, repository=restic_repository,
    )  # fmt: skip
    assert zk_client.get_acls(parent)[0] == [ALICE]
    assert zk_client.get_acls(f"{parent}/copy")[0] == OPEN_ACL_UNSAFE
    assert zk_client.get_acls(f"{parent}/copy/world-reads")[0] == READ_ACL_UNSAFE


@pytest.mark.reliability("Security: ACLs", "a dump without ADMIN flags the user:x redaction")
def test_dump_by_a_user_without_admin_flags_redacted_digest_acls(
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    restic_repository: LocalResticRepository,
) -> None:
    # bob may read both nodes but administer neither, so the server hides the digest ids
    zk_client.create(
        zk_root, b"", acl=[BOB_READS, make_digest_acl("alice", "alice-password", all=True)]
    )
    zk_client.create(f"{zk_root}/node", b"x", acl=[BOB_READS, ALICE])
    backup = run_executor(
        "backup", f"--zookeeper={zookeeper.hosts}", f"--root={zk_root}", "--session=acl",
        user="bob", password="bob-password", repository=restic_repository,
    )  # fmt: skip
    assert backup["phase"] == "Succeeded"
    assert "2 znodes have digest ACLs the server redacted to 'user:x'" in backup["stderr"]
