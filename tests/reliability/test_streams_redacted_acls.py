"""A snapshot dumped by a user without ADMIN holds digest ACLs the server redacted to `user:x`.
`executor restore` refuses it before any write, naming the nodes and the way out; with
`--allow-redacted-acls` it restores them as saved and the result carries a warning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.security import make_digest_acl

from tests.infra.s3_fixtures import LocalResticRepository
from tests.infra.zookeeper import SUPER_PASSWORD, SUPER_USER, ZooKeeperServer

EXECUTOR = str(Path(sys.executable).parent / "executor")
OWNER = make_digest_acl("owner", "owner-password", all=True)
READER = make_digest_acl("reader", "reader-password", read=True)


def run_executor(
    *args: str, user: str, password: str, repository: LocalResticRepository
) -> tuple[int, dict]:
    done = subprocess.run(
        [EXECUTOR, *args, "--auth=digest", f"--repository={repository.path}",
         "--log-format=json"],
        env={"PATH": os.environ["PATH"], "ZK_USERNAME": user, "ZK_PASSWORD": password,
             **repository.env()},
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def redacted_snapshot(
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    restic_repository: LocalResticRepository,
) -> str:
    """A snapshot of zk_root (2 nodes) backed up by `reader`, who may read but not administer."""
    zk_client.create(zk_root, b"app", acl=[OWNER, READER])
    zk_client.create(f"{zk_root}/config", b"v", acl=[OWNER, READER])
    code, backup = run_executor(
        "backup", f"--zookeeper={zookeeper.hosts}", f"--root={zk_root}",
        user="reader", password="reader-password", repository=restic_repository,
    )  # fmt: skip
    assert code == 0, backup["error"]
    return backup["repositories"][0]["snapshotId"]


@pytest.mark.reliability("Bad input: streams", "a snapshot with redacted digest ACLs (user:x)")
def test_restore_refuses_a_snapshot_with_redacted_acls_before_any_write(
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    restic_repository: LocalResticRepository,
    redacted_snapshot: str,
) -> None:
    code, result = run_executor(
        "restore", f"--zookeeper={zookeeper.hosts}", f"--snapshot={redacted_snapshot}",
        f"--target-root={zk_root}-copy", user=SUPER_USER, password=SUPER_PASSWORD,
        repository=restic_repository,
    )  # fmt: skip
    assert (code, result["phase"]) == (1, "Failed")
    assert result["error"].startswith(
        f"2 znodes in the stream have digest ACLs redacted to 'user:x' ({zk_root}, "
        f"{zk_root}/config)"
    )
    assert "nothing was written" in result["error"]
    assert "--allow-redacted-acls" in result["error"]
    assert zk_client.exists(f"{zk_root}-copy") is None


@pytest.mark.reliability("Bad input: streams", "redacted ACLs restored on explicit request")
def test_allow_redacted_acls_restores_them_as_saved_and_warns(
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    restic_repository: LocalResticRepository,
    redacted_snapshot: str,
) -> None:
    code, result = run_executor(
        "restore", f"--zookeeper={zookeeper.hosts}", f"--snapshot={redacted_snapshot}",
        f"--target-root={zk_root}-copy", "--allow-redacted-acls", user=SUPER_USER,
        password=SUPER_PASSWORD, repository=restic_repository,
    )  # fmt: skip
    assert (code, result["phase"], result["znodes"]["created"]) == (0, "Succeeded", 2)
    (warning,) = result["warnings"]
    assert warning.endswith("restored as saved (--allow-redacted-acls)")
    ids = sorted(entry.id.id for entry in zk_client.get_acls(f"{zk_root}-copy/config")[0])
    assert ids == ["owner:x", "reader:x"]  # the server hides every digest id, its own too
