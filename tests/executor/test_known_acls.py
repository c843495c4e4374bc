"""ACLs taken from the previous backup's stream: a dump that uses them writes exactly the
records a dump that asks ZooKeeper for every ACL writes — whatever changed in between."""

from __future__ import annotations

import io
import os
import threading
import time
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kazoo.security import ACL, OPEN_ACL_UNSAFE, READ_ACL_UNSAFE, Id, make_digest_acl

from executor.dump import DumpOptions, dump
from executor.known_acls import KnownAcls
from executor.stream import FLAG_ACL_REDACTED, AclEntry, StreamReader, StreamWriter

APP_ACL = [make_digest_acl("app", "app-secret", all=True)]
IP_ACL = [ACL(31, Id("ip", "127.0.0.1"))]
ACLS = [OPEN_ACL_UNSAFE, READ_ACL_UNSAFE, APP_ACL, IP_ACL]


def seed(client, root: str, nodes: int = 700) -> list[str]:
    """`nodes` children under root, ACLs cycling through ACLS (more than one publication
    of the loader: it publishes every 512 records)."""
    client.create(root, b"root", makepath=True)
    transaction = client.transaction()
    paths = [f"{root}/n{i:04d}" for i in range(nodes)]
    for i, path in enumerate(paths):
        transaction.create(path, str(i).encode(), acl=ACLS[i % len(ACLS)])
    transaction.commit()
    return paths


def stream_of(zk_settings, root: str, known: KnownAcls | None = None) -> tuple[bytes, object]:
    out = io.BytesIO()
    summary = dump(zk_settings, DumpOptions(root=root), out, known_acls=known)
    return out.getvalue(), summary


def known_from(stream: bytes) -> KnownAcls:
    known = KnownAcls()
    known.load(io.BytesIO(stream))
    return known


def records(stream: bytes) -> list:
    return list(StreamReader(io.BytesIO(stream)))


def test_an_unchanged_tree_takes_every_acl_from_the_previous_stream(
    zk_client, zk_settings, zk_root
) -> None:
    seed(zk_client, zk_root)
    previous, _ = stream_of(zk_settings, zk_root)
    again, summary = stream_of(zk_settings, zk_root, known_from(previous))
    assert summary.acls_reused == summary.znodes == 701
    assert records(again) == records(previous)


def test_a_node_given_another_acl_since_gets_its_new_acl(zk_client, zk_settings, zk_root) -> None:
    paths = seed(zk_client, zk_root)
    previous, _ = stream_of(zk_settings, zk_root)
    zk_client.set_acls(paths[0], APP_ACL)
    again, summary = stream_of(zk_settings, zk_root, known_from(previous))
    assert summary.acls_reused == 700
    changed = next(r for r in records(again) if r.path == paths[0])
    assert changed.acl == (AclEntry(31, "digest", APP_ACL[0].id.id),)


def test_a_node_recreated_with_another_acl_gets_its_new_acl(
    zk_client, zk_settings, zk_root
) -> None:
    paths = seed(zk_client, zk_root)
    previous, _ = stream_of(zk_settings, zk_root)
    zk_client.delete(paths[0])
    zk_client.create(paths[0], b"0", acl=IP_ACL)  # same path, aversion 0 again
    again, summary = stream_of(zk_settings, zk_root, known_from(previous))
    assert summary.acls_reused == 700
    recreated = next(r for r in records(again) if r.path == paths[0])
    assert recreated.acl == (AclEntry(31, "ip", "127.0.0.1"),)


def with_redacted_acl(stream: bytes, path: str) -> bytes:
    """The same stream, except that `path`'s ACL is one the server had redacted."""
    out = io.BytesIO()
    reader = StreamReader(io.BytesIO(stream))
    writer = StreamWriter(out, reader.header)
    for record in reader:
        if record.path == path:
            redacted = (AclEntry(31, "digest", "app:x"),)
            record = record._replace(acl=redacted, flags=record.flags | FLAG_ACL_REDACTED)
        writer.node(record)
    writer.finish(zxid_start=1, zxid_end=2)
    return out.getvalue()


def test_a_redacted_acl_in_the_previous_stream_is_read_again(
    zk_client, zk_settings, zk_root
) -> None:
    paths = seed(zk_client, zk_root)
    previous, _ = stream_of(zk_settings, zk_root)
    again, summary = stream_of(
        zk_settings, zk_root, known_from(with_redacted_acl(previous, paths[2]))
    )
    assert summary.acls_reused == 700
    assert records(again) == records(previous)


def test_a_previous_stream_cut_short_serves_what_it_holds(zk_client, zk_settings, zk_root) -> None:
    seed(zk_client, zk_root)
    previous, _ = stream_of(zk_settings, zk_root)
    known = known_from(previous[: len(previous) // 2])
    assert not known.complete and "ended early" in known.problem
    again, summary = stream_of(zk_settings, zk_root, known)
    assert 0 < summary.acls_reused < summary.znodes
    assert records(again) == records(previous)


def test_no_more_acls_are_kept_than_the_limit(zk_client, zk_settings, zk_root) -> None:
    seed(zk_client, zk_root)
    previous, _ = stream_of(zk_settings, zk_root)
    known = KnownAcls(most=600)
    known.load(io.BytesIO(previous))
    assert not known.complete and "more than 600 nodes" in known.problem
    again, summary = stream_of(zk_settings, zk_root, known)
    assert 0 < summary.acls_reused <= 600  # a batch reaching past the last known reads all
    assert records(again) == records(previous)


def test_the_dump_stops_waiting_for_a_previous_stream_that_stalls() -> None:
    read_end, write_end = os.pipe()
    known = KnownAcls(patience=0.2)
    loader = threading.Thread(target=known.load, args=(os.fdopen(read_end, "rb"),))
    loader.start()
    try:
        started = time.monotonic()
        assert not known.reaches(("a",))
        assert time.monotonic() - started >= 0.2
        started = time.monotonic()
        assert not known.reaches(("b",))  # no second wait
        assert time.monotonic() - started < 0.2
    finally:
        known.stop()
        os.close(write_end)
        loader.join()


def test_a_previous_stream_that_is_no_stream_reuses_nothing(
    zk_client, zk_settings, zk_root
) -> None:
    seed(zk_client, zk_root, nodes=5)
    known = known_from(b"Fatal: no snapshot found\n")
    assert "ended early" in known.problem
    _, summary = stream_of(zk_settings, zk_root, known)
    assert summary.acls_reused == 0


# what may happen to the tree between two backups
CHANGES = st.lists(
    st.tuples(
        st.sampled_from(["set_acls", "recreate", "set_data", "delete", "create"]),
        st.integers(0, 11),
        st.integers(0, len(ACLS) - 1),
    ),
    max_size=8,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(changes=CHANGES)
def test_whatever_changed_the_dump_equals_one_that_reads_every_acl(
    zk_client, zk_settings, changes
) -> None:
    root = f"/known-acls-{uuid.uuid4().hex[:8]}"
    paths = seed(zk_client, root, nodes=12)
    previous, _ = stream_of(zk_settings, root)
    for change, index, acl in changes:
        path = paths[index]
        exists = zk_client.exists(path) is not None
        if change == "set_acls" and exists:
            zk_client.set_acls(path, ACLS[acl])
        elif change == "recreate" and exists:
            zk_client.delete(path)
            zk_client.create(path, b"again", acl=ACLS[acl])
        elif change == "set_data" and exists:
            zk_client.set(path, b"changed")
        elif change == "delete" and exists:
            zk_client.delete(path)
        elif change == "create" and not exists:
            zk_client.create(path, b"new", acl=ACLS[acl])
    reused, _ = stream_of(zk_settings, root, known_from(previous))
    read_all, _ = stream_of(zk_settings, root)
    assert records(reused) == records(read_all)
    zk_client.delete(root, recursive=True)


def test_the_header_of_the_previous_stream_does_not_matter(zk_client, zk_settings, zk_root):
    """A previous backup of a wider root (or other filters) still serves the nodes it holds."""
    seed(zk_client, zk_root + "/inner", nodes=10)
    wider, _ = stream_of(zk_settings, zk_root)
    _, summary = stream_of(zk_settings, zk_root + "/inner", known_from(wider))
    assert summary.acls_reused == 11
