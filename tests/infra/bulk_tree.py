"""Trees big enough that a dump or restore takes a few seconds (so a fault can hit it mid-way).

`seed_wide_tree` writes `parents × children` znodes with distinct values through pipelined
multi-op transactions (about 20× faster than single creates on an ensemble). `stream_tree` and
`zookeeper_tree` give a tree as `{relative path: (data, acl)}`, from a stored stream or from a
live server, so a restored tree can be compared exactly with its source.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

from kazoo.client import KazooClient

from executor.dump import DumpOptions, dump
from executor.stream import NodeRecord, StreamReader
from executor.zk.connection import ZkConnectionSettings
from tests.infra.zookeeper import SUPER_PASSWORD, SUPER_USER

Tree = dict[str, tuple[bytes, tuple]]
_IN_FLIGHT = 8


def node_value(parent: int, child: int) -> bytes:
    """The value of one seeded znode: distinct per node, about 200 bytes."""
    return f"parent {parent} child {child};".encode() * 8


def seed_wide_tree(client: KazooClient, root: str, parents: int, children: int) -> int:
    """Create `root` with `parents` children of `children` leaves each; the znode count."""
    client.create(root, b"seeded root")
    pending = []
    for p in range(parents):
        transaction = client.transaction()
        transaction.create(f"{root}/p{p:04d}", f"parent {p}".encode())
        for c in range(children):
            transaction.create(f"{root}/p{p:04d}/c{c:04d}", node_value(p, c))
        pending.append(transaction.commit_async())
        if len(pending) >= _IN_FLIGHT:
            _committed(pending.pop(0).get(timeout=60))
    for result in pending:
        _committed(result.get(timeout=60))
    return 1 + parents * (1 + children)


def _committed(results: list) -> None:
    failed = [r for r in results if isinstance(r, Exception)]
    if failed:
        raise RuntimeError(f"seeding failed: {failed[0]!r}")


def relative(records: Iterable[NodeRecord], root: str) -> Tree:
    """`{path below root: (data, acl)}` of stream records (the root itself is "")."""
    return {r.path.removeprefix(root): (r.data or b"", r.acl) for r in records}


def stream_tree(stream: bytes) -> Tree:
    """The tree a stored stream holds, relative to its dump root."""
    reader = StreamReader(io.BytesIO(stream))
    return relative(reader, reader.header.root)


def zookeeper_tree(hosts: str, root: str) -> Tree:
    """The live tree under `root` (read as the super user), relative to `root`."""
    settings = ZkConnectionSettings(hosts, "digest", SUPER_USER, SUPER_PASSWORD, timeout=15.0)
    out = io.BytesIO()
    dump(settings, DumpOptions(root=root), out)
    return relative(StreamReader(io.BytesIO(out.getvalue())), root)
