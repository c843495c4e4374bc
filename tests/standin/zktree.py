"""Sample ZooKeeper data for the demo and the e2e tests, and a faithful read-back for diffs."""

from __future__ import annotations

from kazoo.client import KazooClient
from kazoo.security import make_digest_acl

# path -> (data, sorted ACL triples (perms, scheme, id))
Tree = dict[str, tuple[bytes, list[tuple[int, str, str]]]]


def seed(client: KazooClient, root: str, acl_user: str, acl_password: str) -> None:
    """Kafka-like nodes under `root`: brokers, topics, config, sequential nodes, an ACL'd node."""
    client.ensure_path(root)
    for broker in range(3):
        data = f'{{"host":"kafka-{broker}.kafka","port":9092,"version":5}}'.encode()
        client.create(f"{root}/brokers/ids/{broker}", data, makepath=True)
    for topic, partitions in (("orders", 3), ("payments", 2)):
        layout = {str(p): [p % 3, (p + 1) % 3] for p in range(partitions)}
        client.create(
            f"{root}/brokers/topics/{topic}",
            f'{{"version":2,"partitions":{layout}}}'.replace("'", '"').encode(),
            makepath=True,
        )
        client.create(
            f"{root}/config/topics/{topic}",
            b'{"config":{"retention.ms":"604800000"}}',
            makepath=True,
        )
    client.create(f"{root}/controller_epoch", b"7")
    for _ in range(3):
        client.create(f"{root}/admin/reassign-", b"pending", sequence=True, makepath=True)
    acl = make_digest_acl(acl_user, acl_password, all=True)
    client.create(f"{root}/config/users", b'{"scram":"only-for-admins"}', acl=[acl])


def read_tree(client: KazooClient, root: str) -> Tree:
    """Every node under `root` (inclusive) with its data and ACLs."""
    tree: Tree = {}

    def walk(path: str) -> None:
        data, _ = client.get(path)
        acls, _ = client.get_acls(path)
        tree[path] = (data, sorted((a.perms, a.id.scheme, a.id.id) for a in acls))
        for child in sorted(client.get_children(path)):
            walk(f"{path.rstrip('/')}/{child}")

    walk(root)
    return tree


def diff(before: Tree, after: Tree) -> list[str]:
    """Human-readable differences: missing, extra and changed nodes."""
    lines = [f"- {p} (missing)" for p in sorted(before.keys() - after.keys())]
    lines += [f"+ {p} (extra)" for p in sorted(after.keys() - before.keys())]
    for path in sorted(before.keys() & after.keys()):
        if before[path] != after[path]:
            lines.append(f"~ {path}: {before[path][0]!r} -> {after[path][0]!r}")
    return lines
