"""Hostile znode names and values round-trip exactly through `executor backup` → restic →
`executor restore` (the real CLI, real ZooKeeper, real restic): NUL and every byte value in
data, values near jute.maxbuffer, odd but legal names, very long names and deep paths, and
100,000 children under one parent (a getChildren reply larger than 1 MB)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import BadArgumentsError
from kazoo.security import ACL, Id, make_digest_acl

from tests.infra.s3_fixtures import LocalResticRepository
from tests.infra.zookeeper import SUPER_PASSWORD, SUPER_USER, ZooKeeperServer

EXECUTOR = str(Path(sys.executable).parent / "executor")
AREA = "Bad input: hostile data"
ALL_BYTES = bytes(range(256))
# the largest value that still fits a create request under jute.maxbuffer (1,048,575 B),
# leaving room for the path, the ACL and the request header
NEAR_MAXBUFFER = 1_048_000


def run_executor(*args: str, repository: LocalResticRepository) -> dict:
    """One executor command as super user on the local repository; its result (exit 0)."""
    done = subprocess.run(
        [EXECUTOR, *args, "--auth=digest", f"--repository={repository.path}",
         "--log-format=json"],
        env={"PATH": os.environ["PATH"], "ZK_USERNAME": SUPER_USER,
             "ZK_PASSWORD": SUPER_PASSWORD, **repository.env()},
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert (done.returncode, result["phase"]) == (0, "Succeeded"), result["error"]
    return result


def round_trip(
    zookeeper: ZooKeeperServer, repository: LocalResticRepository, root: str, target: str
) -> tuple[dict, dict]:
    """Back up `root`, restore the snapshot under `target`; both results."""
    backup = run_executor(
        "backup", f"--zookeeper={zookeeper.hosts}", f"--root={root}", repository=repository
    )
    snapshot = backup["repositories"][0]["snapshotId"]
    restored = run_executor(
        "restore", f"--zookeeper={zookeeper.hosts}", f"--snapshot={snapshot}",
        f"--target-root={target}", repository=repository,
    )  # fmt: skip
    return backup, restored


def subtree(client: KazooClient, root: str) -> dict[str, tuple[bytes, list[ACL]]]:
    """Every node under `root`: relative path -> (data, sorted ACL)."""
    found, pending = {}, [root]
    while pending:
        path = pending.pop()
        data, _ = client.get(path)
        found[path[len(root) :]] = (data, sorted(client.get_acls(path)[0]))
        pending += [f"{path}/{child}" for child in client.get_children(path)]
    return found


# names ZooKeeper accepts (it refuses control characters, "." and "..", and code points from
# U+D800 up to U+F8FF, which covers every emoji: Java sees them as surrogate pairs)
ODD_NAMES = [
    "with space",
    " leading and trailing ",
    "...",
    ".hidden",
    "a..b",
    "zookeeper",  # only the top-level /zookeeper is the system tree
    "*",
    "[a-z]?",
    "back\\slash",
    "quote'\"",
    "%2F-not-a-slash",
    "名前",
    "ﬁ-ligature",
    "combining-é",
    "rtl-שלום",
    "n-0000000001",
    "-",
    "x" * 255,
]


@pytest.mark.reliability(AREA, "odd but legal znode names")
def test_odd_but_legal_names_round_trip_exactly(
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    restic_repository: LocalResticRepository,
) -> None:
    zk_client.create(zk_root, b"")
    for name in ODD_NAMES:
        zk_client.create(f"{zk_root}/{name}", name.encode())
        zk_client.create(f"{zk_root}/{name}/{name}", b"nested " + name.encode())
    zk_client.create(f"{zk_root}/zookeeper/quota", b"not the system tree", makepath=True)
    backup, restored = round_trip(zookeeper, restic_repository, zk_root, zk_root + "-copy")
    assert subtree(zk_client, zk_root + "-copy") == subtree(zk_client, zk_root)
    assert restored["znodes"]["created"] == backup["stream"]["znodes"] == 2 * len(ODD_NAMES) + 2


@pytest.mark.reliability(AREA, "names ZooKeeper itself refuses (emoji, newline, '..')")
@pytest.mark.parametrize("name", ["emoji-😀", "new\nline", "tab\t", "..", "."])
def test_names_the_server_refuses_never_reach_a_stream(
    zk_client: KazooClient, zk_root: str, name: str
) -> None:
    # the server is the gate: no dump can ever meet these names, so none needs handling
    zk_client.create(zk_root, b"")
    with pytest.raises((BadArgumentsError, ValueError)):
        zk_client.create(f"{zk_root}/{name}", b"")


@pytest.mark.reliability(AREA, "NUL and every byte value in data, values near jute.maxbuffer")
def test_every_byte_value_and_values_near_maxbuffer_round_trip_exactly(
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    restic_repository: LocalResticRepository,
) -> None:
    values = {
        "/nul-only": b"\x00",
        "/nuls": b"\x00" * 1000,
        "/all-bytes": ALL_BYTES,
        "/all-bytes-reversed": ALL_BYTES[::-1] * 3,
        "/looks-like-a-stream": b"ZKSTASH\x00\x00\x01T\x00\x00\x00\x02{}",
        "/utf8-emoji": "😀 data may hold any code point".encode(),
        "/empty": b"",
        "/near-maxbuffer-1": (ALL_BYTES * (NEAR_MAXBUFFER // 256 + 1))[:NEAR_MAXBUFFER],
        "/near-maxbuffer-2": b"\xff" * NEAR_MAXBUFFER,
    }
    zk_client.create(zk_root, b"\x00root\x00", acl=[make_digest_acl("app", "pw", all=True)])
    for relative, value in values.items():
        zk_client.create(zk_root + relative, value, acl=[ACL(31, Id("world", "anyone"))])
    round_trip(zookeeper, restic_repository, zk_root, zk_root + "-copy")
    assert subtree(zk_client, zk_root + "-copy") == subtree(zk_client, zk_root)


@pytest.mark.reliability(AREA, "very long names and deep paths")
def test_very_long_names_and_deep_paths_round_trip_exactly(
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    restic_repository: LocalResticRepository,
) -> None:
    zk_client.create(zk_root, b"")
    # three siblings whose names add up to more than jute.maxbuffer: one multiRead of them
    # all would be a request the server drops the connection for
    for index in range(3):
        zk_client.create(f"{zk_root}/long/{index}" + "n" * 400_000, b"long", makepath=True)
    deep = zk_root + "/deep/" + "/".join(f"d{level}" for level in range(600))
    zk_client.create(deep, b"bottom", makepath=True)
    round_trip(zookeeper, restic_repository, zk_root, zk_root + "-copy")
    assert subtree(zk_client, zk_root + "-copy") == subtree(zk_client, zk_root)


@pytest.mark.slow
@pytest.mark.reliability(AREA, "100,000 children under one parent (getChildren > 1 MB)")
def test_a_hundred_thousand_children_under_one_parent_round_trip(
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    restic_repository: LocalResticRepository,
) -> None:
    names = [f"child-{index:07d}" for index in range(100_000)]  # 13-byte names: 1.7 MB reply
    zk_client.create(zk_root + "/parent", b"", makepath=True)
    pending = []
    for start in range(0, len(names), 2000):
        transaction = zk_client.transaction()
        for name in names[start : start + 2000]:
            transaction.create(f"{zk_root}/parent/{name}", name.encode())
        pending.append(transaction.commit_async())
    for result in pending:
        assert all(isinstance(path, str) for path in result.get(timeout=60))

    backup, restored = round_trip(zookeeper, restic_repository, zk_root, zk_root + "-copy")
    assert backup["stream"]["znodes"] == restored["znodes"]["created"] == 100_002
    copied = zk_client.get_children(zk_root + "-copy/parent")
    assert sorted(copied) == names
    for name in names[::997]:  # a spread of values (reading all 100k would double the test)
        assert zk_client.get(f"{zk_root}-copy/parent/{name}")[0] == name.encode()
