"""Dumping a real ZooKeeper tree: content, order, filters, fidelity metadata, failures."""

from __future__ import annotations

import io

import pytest
from kazoo.security import ACL, Id, make_digest_acl

from executor.dump import DumpError, DumpOptions, dump, sequence_counter
from executor.stream import StreamReader
from executor.zk.connection import ZkConnectionSettings
from tests.infra.zookeeper import SUPER_PASSWORD, SUPER_USER


def dump_records(settings, **options) -> tuple[list, object]:
    out = io.BytesIO()
    summary = dump(settings, DumpOptions(**options), out)
    reader = StreamReader(io.BytesIO(out.getvalue()))
    return list(reader), summary


def test_dump_writes_every_node_in_preorder(zk_client, zk_settings, zk_root):
    for path in ["/b", "/a/y", "/a/x/deep", "/a-z"]:
        zk_client.create(zk_root + path, b"v", makepath=True)
    nodes, summary = dump_records(zk_settings, root=zk_root)
    relative = [r.path[len(zk_root) :] for r in nodes]
    assert relative == ["", "/a", "/a/x", "/a/x/deep", "/a/y", "/a-z", "/b"]
    assert summary.znodes == 7


def test_dump_keeps_binary_data_and_the_full_stat(zk_client, zk_settings, zk_root):
    zk_client.create(zk_root + "/bin", b"\x00\x01\xff", makepath=True)
    _, stat = zk_client.get(zk_root + "/bin")
    nodes, _ = dump_records(zk_settings, root=zk_root + "/bin")
    assert nodes[0].data == b"\x00\x01\xff"
    assert nodes[0].stat == tuple(stat)


def test_dump_records_the_sequential_counter(zk_client, zk_settings, zk_root):
    zk_client.create(zk_root, b"")
    for _ in range(3):
        zk_client.create(zk_root + "/job-", sequence=True)
    zk_client.delete(zk_root + "/job-0000000001")
    nodes, _ = dump_records(zk_settings, root=zk_root)
    assert nodes[0].sequence == 3
    assert sequence_counter(cversion=5, num_children=1) == 3


def test_ephemeral_nodes_are_left_out_by_default(zk_client, zk_settings, zk_root):
    zk_client.create(zk_root + "/keep", makepath=True)
    zk_client.create(zk_root + "/session", ephemeral=True)
    nodes, _ = dump_records(zk_settings, root=zk_root)
    assert [r.path for r in nodes] == [zk_root, zk_root + "/keep"]


def test_ephemeral_nodes_are_flagged_when_included(zk_client, zk_settings, zk_root):
    zk_client.create(zk_root + "/session", ephemeral=True, makepath=True)
    nodes, _ = dump_records(zk_settings, root=zk_root, include_ephemeral=True)
    assert [r.ephemeral for r in nodes] == [False, True]


def test_system_subtree_is_skipped_unless_asked(zk_settings):
    nodes, _ = dump_records(zk_settings, root="/")
    assert not any(r.path.startswith("/zookeeper") for r in nodes)
    with_system, _ = dump_records(zk_settings, root="/", include_system=True)
    assert "/zookeeper/quota" in [r.path for r in with_system]


def test_exclude_glob_drops_matching_subtrees(zk_client, zk_settings, zk_root):
    for path in ["/app/cache/x", "/app/config", "/other/cache"]:
        zk_client.create(zk_root + path, makepath=True)
    nodes, _ = dump_records(zk_settings, root=zk_root, exclude=[zk_root + "/*/cache"])
    relative = [r.path[len(zk_root) :] for r in nodes]
    assert relative == ["", "/app", "/app/config", "/other"]


def test_include_glob_keeps_matches_and_their_parents(zk_client, zk_settings, zk_root):
    for path in ["/app/config/k", "/app/tmp", "/logs"]:
        zk_client.create(zk_root + path, makepath=True)
    nodes, _ = dump_records(zk_settings, root=zk_root, include=[zk_root + "/app/config"])
    relative = [r.path[len(zk_root) :] for r in nodes]
    assert relative == ["", "/app", "/app/config", "/app/config/k"]


def test_digest_acls_are_saved_intact_as_super_user(zk_client, zk_settings, zk_root):
    acl = make_digest_acl("app", "secret", all=True)
    zk_client.create(zk_root, b"", acl=[acl])
    nodes, summary = dump_records(zk_settings, root=zk_root)
    (entry,) = nodes[0].acl
    assert (entry.scheme, entry.id, entry.perms) == ("digest", acl.id.id, 31)
    assert summary.redacted_acls == 0


def test_redacted_digest_acls_are_flagged_with_a_warning(zk_client, zookeeper, zk_root):
    reader_acl = make_digest_acl("reader", "pw", read=True)
    zk_client.create(zk_root, b"", acl=[reader_acl])
    as_reader = ZkConnectionSettings(zookeeper.hosts, "digest", "reader", "pw")
    nodes, summary = dump_records(as_reader, root=zk_root)
    assert nodes[0].acl[0].id == "reader:x"
    assert summary.redacted_acls == 1
    assert "redacted" in summary.warnings[0]


def test_multiread_and_pipelined_reads_give_identical_streams(zk_client, zk_settings, zk_root):
    zk_client.create(zk_root + "/p/q", b"data", makepath=True)
    zk_client.create(zk_root + "/r", b"", acl=[ACL(1, Id("world", "anyone"))])
    multiread = dump(zk_settings, DumpOptions(root=zk_root, read_mode="multiread"), io.BytesIO())
    pipelined = dump(zk_settings, DumpOptions(root=zk_root, read_mode="pipelined"), io.BytesIO())
    assert (multiread.read_mode, pipelined.read_mode) == ("multiread", "pipelined")
    # the checksum covers every byte before the trailer (which only adds the zxid window)
    assert multiread.sha256 == pipelined.sha256


def test_dumping_an_unchanged_tree_twice_gives_the_same_checksum(zk_client, zk_settings, zk_root):
    zk_client.create(zk_root + "/x", b"1", makepath=True)
    first = dump(zk_settings, DumpOptions(root=zk_root), io.BytesIO())
    second = dump(zk_settings, DumpOptions(root=zk_root), io.BytesIO())
    assert first.sha256 == second.sha256


def test_missing_root_raises_dump_error(zk_settings, zk_root):
    with pytest.raises(DumpError, match="does not exist"):
        dump(zk_settings, DumpOptions(root=zk_root), io.BytesIO())


def test_unreachable_server_raises_dump_error():
    settings = ZkConnectionSettings("127.0.0.1:1", timeout=1.0)
    with pytest.raises(DumpError, match=r"cannot connect to ZooKeeper at 127\.0\.0\.1:1"):
        dump(settings, DumpOptions(), io.BytesIO())


def test_relative_root_is_rejected_with_a_clear_message(zk_settings):
    with pytest.raises(DumpError, match="dump root 'app' is not an absolute"):
        dump(zk_settings, DumpOptions(root="app"), io.BytesIO())


def test_progress_reports_the_final_count(zk_client, zk_settings, zk_root):
    zk_client.create(zk_root + "/a", makepath=True)
    seen: list[int] = []
    dump(zk_settings, DumpOptions(root=zk_root), io.BytesIO(), progress=seen.append)
    assert seen[-1] == 2


def test_chroot_in_hosts_is_honoured(zk_client, zookeeper, zk_root):
    zk_client.create(zk_root + "/inner", b"c", makepath=True)
    chrooted = ZkConnectionSettings(
        f"zk://{zookeeper.hosts}{zk_root}", "digest", SUPER_USER, SUPER_PASSWORD
    )
    nodes, _ = dump_records(chrooted, root="/")
    assert [(r.path, r.data) for r in nodes] == [("/", b""), ("/inner", b"c")]


def test_nodes_deleted_during_the_dump_are_simply_absent(zk_client, zk_settings, zk_root):
    zk_client.create(zk_root)
    transaction = zk_client.transaction()
    for i in range(1500):
        transaction.create(f"{zk_root}/n{i:04d}", b"v")
    transaction.commit()
    doomed = [f"{zk_root}/n{i:04d}" for i in range(1400, 1500)]

    def delete_ahead_of_the_walk(count: int) -> None:
        if count == 1000:  # the walk has emitted ~1,000 nodes; these are hundreds ahead
            for path in doomed:
                zk_client.delete(path)

    out = io.BytesIO()
    options = DumpOptions(root=zk_root, batch_bytes=4096, in_flight=1)
    summary = dump(zk_settings, options, out, progress=delete_ahead_of_the_walk)
    paths = [r.path for r in StreamReader(io.BytesIO(out.getvalue()))]
    expected = [zk_root] + [f"{zk_root}/n{i:04d}" for i in range(1400)]
    assert paths == expected
    assert summary.znodes == 1401
