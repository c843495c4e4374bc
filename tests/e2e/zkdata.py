"""A small, realistic ZooKeeper tree for the e2e tests, and a faithful way to read one back."""

from __future__ import annotations

from typing import Any

from kazoo.client import KazooClient
from kazoo.security import make_digest_acl

from tests.infra.zookeeper import SUPER_PASSWORD, SUPER_USER


def seed(client: KazooClient, root: str) -> None:
    """Kafka-like nodes under `root`: brokers, topics, config, sequential nodes, an ACL'd node."""
    client.ensure_path(root)
    for broker in range(3):
        client.create(
            f"{root}/brokers/ids/{broker}",
            f'{{"host":"kafka-{broker}","port":9092}}'.encode(),
            makepath=True,
        )
    client.create(
        f"{root}/brokers/topics/orders", b'{"partitions":{"0":[0,1],"1":[1,2]}}', makepath=True
    )
    client.create(f"{root}/config/topics/orders", b'{"retention.ms":"604800000"}', makepath=True)
    for _ in range(3):
        client.create(f"{root}/admin/seq-", b"job", sequence=True, makepath=True)
    acl = make_digest_acl(SUPER_USER, SUPER_PASSWORD, all=True)
    client.create(f"{root}/secret-config", b"only-super", acl=[acl])


def snapshot_tree(client: KazooClient, root: str) -> dict[str, tuple[bytes, Any]]:
    """path -> (data, ACLs) of every node under `root`, for before/after comparisons."""
    tree: dict[str, tuple[bytes, Any]] = {}

    def walk(path: str) -> None:
        data, _ = client.get(path)
        acls, _ = client.get_acls(path)
        tree[path] = (data, sorted((a.perms, a.id.scheme, a.id.id) for a in acls))
        for child in sorted(client.get_children(path)):
            walk(f"{path}/{child}")

    walk(root)
    return tree
