"""Property: dump then restore into an empty place reproduces the tree exactly (data, ACLs,
next sequential suffixes), for arbitrary trees."""

from __future__ import annotations

import contextlib
import io
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kazoo.security import ACL, Id, make_digest_acl

from executor.dump import DumpOptions, dump
from executor.restore import RestoreOptions, restore

NAME = st.text(
    # ZooKeeper refuses code points from U+D800 up (UTF-16 surrogates, private use, specials)
    alphabet=st.characters(
        categories=("L", "N"), max_codepoint=0xD7FF, include_characters="-_.:@ é中✓"
    ),
    min_size=1,
    max_size=10,
).filter(lambda n: n not in (".", ".."))
ACLS = st.sampled_from(
    [
        [ACL(31, Id("world", "anyone"))],
        [ACL(1, Id("world", "anyone"))],
        [make_digest_acl("app", "pw", all=True)],
        [make_digest_acl("app", "pw", read=True, write=True), ACL(1, Id("ip", "127.0.0.1"))],
    ]
)
DATA = st.one_of(
    st.binary(max_size=64),
    st.just(b""),
    st.just(b"\x00" * 1_040_000),  # near jute.maxbuffer: must travel alone
)


@st.composite
def trees(draw):
    """(relative path parts, data, acl) in creation order, plus sequential-child plans."""
    paths: list[tuple[str, ...]] = []
    for parts in draw(st.lists(st.lists(NAME, min_size=1, max_size=6), max_size=12)):
        for depth in range(1, len(parts) + 1):
            if tuple(parts[:depth]) not in paths:
                paths.append(tuple(parts[:depth]))
    nodes = [(p, draw(DATA), draw(ACLS)) for p in paths]
    big = [i for i, n in enumerate(nodes) if len(n[1]) > 1000]
    for i in big[2:]:  # at most two big values keep each example quick
        nodes[i] = (nodes[i][0], b"", nodes[i][2])
    sequences = draw(st.lists(st.tuples(st.integers(1, 6), st.integers(0, 6)), max_size=3))
    return nodes, sequences


def counters(client, root: str) -> dict[str, int]:
    """Next sequential suffix of every node under root (relative path -> counter)."""
    out, pending = {}, [root]
    while pending:
        path = pending.pop()
        _, stat = client.get(path)
        out[path[len(root) :]] = (stat.cversion + stat.numChildren) // 2
        pending += [f"{path}/{c}" for c in client.get_children(path)]
    return out


def snapshot(client, root: str) -> dict[str, tuple[bytes, list]]:
    out, pending = {}, [root]
    while pending:
        path = pending.pop()
        data, _ = client.get(path)
        acl, _ = client.get_acls(path)
        out[path[len(root) :]] = (data, sorted(acl))
        pending += [f"{path}/{c}" for c in client.get_children(path)]
    return out


_ids = itertools.count()


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(tree=trees())
def test_dump_and_restore_reproduce_the_tree(zk_client, zk_settings, zk_root, tree):
    nodes, sequences = tree
    source = f"{zk_root}-{next(_ids)}"
    zk_client.create(source, b"root", makepath=True)
    for parts, data, acl in nodes:
        zk_client.create(source + "/" + "/".join(parts), data, acl=acl)
    for index, (created, deleted) in enumerate(sequences):
        queue = f"{source}/queue{index}"
        zk_client.create(queue)
        made = [zk_client.create(queue + "/n-", sequence=True) for _ in range(created)]
        for path in made[: min(deleted, created)]:
            zk_client.delete(path)

    stream = io.BytesIO()
    dump(zk_settings, DumpOptions(root=source), stream)
    target = source + "-restored"
    restore(
        zk_settings,
        lambda: contextlib.nullcontext(io.BytesIO(stream.getvalue())),
        RestoreOptions(target_root=target),
    )

    assert snapshot(zk_client, target) == snapshot(zk_client, source)
    assert counters(zk_client, target) == counters(zk_client, source)
