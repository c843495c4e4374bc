"""Restoring streams into a real ZooKeeper: modes, dry run, refusal of damaged streams."""

from __future__ import annotations

import contextlib
import io

import pytest
from kazoo.security import make_digest_acl

from executor.dump import DumpOptions, dump
from executor.restore import RestoreError, RestoreOptions, restore


def dumped(settings, root: str) -> bytes:
    out = io.BytesIO()
    dump(settings, DumpOptions(root=root), out)
    return out.getvalue()


def opener(stream: bytes):
    """An `open_stream` callable that counts how often it is opened."""

    def open_stream():
        open_stream.calls += 1
        return contextlib.nullcontext(io.BytesIO(stream))

    open_stream.calls = 0
    return open_stream


def tree(client, root: str) -> dict[str, bytes]:
    """Every node under `root` (relative path -> data)."""
    found = {}
    pending = [root]
    while pending:
        path = pending.pop()
        data, _ = client.get(path)
        found[path[len(root) :] or "/"] = data
        pending += [f"{path}/{c}" for c in client.get_children(path)]
    return found


@pytest.fixture
def source(zk_client, zk_settings, zk_root) -> bytes:
    """A dumped tree: /src with data, a digest ACL and a child."""
    zk_client.create(zk_root + "/src/a/b", b"leaf", makepath=True)
    zk_client.create(zk_root + "/src/c", b"c", acl=[make_digest_acl("app", "pw", all=True)])
    return dumped(zk_settings, zk_root + "/src")


def test_restore_into_an_empty_target_creates_everything(zk_client, zk_settings, zk_root, source):
    stream = opener(source)
    summary = restore(zk_settings, stream, RestoreOptions(target_root=zk_root + "/dst"))
    assert (summary.created, summary.skipped, summary.znodes) == (4, 0, 4)
    assert tree(zk_client, zk_root + "/dst") == tree(zk_client, zk_root + "/src")
    assert zk_client.get_acls(zk_root + "/dst/c")[0] == zk_client.get_acls(zk_root + "/src/c")[0]
    assert stream.calls == 2  # once to verify, once to apply


def test_skip_mode_leaves_existing_nodes_alone(zk_client, zk_settings, zk_root, source):
    zk_client.create(zk_root + "/dst/a", b"local", makepath=True)
    summary = restore(zk_settings, opener(source), RestoreOptions(target_root=zk_root + "/dst"))
    assert zk_client.get(zk_root + "/dst/a")[0] == b"local"
    assert zk_client.get(zk_root + "/dst/a/b")[0] == b"leaf"
    assert (summary.created, summary.skipped) == (2, 2)


def test_overwrite_mode_resets_data_and_acl(zk_client, zk_settings, zk_root, source):
    zk_client.create(zk_root + "/dst/a", b"local", makepath=True)
    zk_client.create(zk_root + "/dst/c", b"c")  # world:anyone instead of the digest ACL
    options = RestoreOptions(target_root=zk_root + "/dst", mode="overwrite")
    summary = restore(zk_settings, opener(source), options)
    assert zk_client.get(zk_root + "/dst/a")[0] == b""
    assert zk_client.get_acls(zk_root + "/dst/c")[0][0].id.scheme == "digest"
    assert summary.updated == 2


def test_mirror_mode_deletes_nodes_the_backup_does_not_have(
    zk_client, zk_settings, zk_root, source
):
    zk_client.create(zk_root + "/dst/stray/child", b"", makepath=True)
    options = RestoreOptions(target_root=zk_root + "/dst", mode="mirror")
    summary = restore(zk_settings, opener(source), options)
    assert tree(zk_client, zk_root + "/dst") == tree(zk_client, zk_root + "/src")
    assert summary.deleted == 2


def test_fail_mode_refuses_before_writing_when_a_node_exists(
    zk_client, zk_settings, zk_root, source
):
    zk_client.create(zk_root + "/dst/a/b", b"x", makepath=True)
    options = RestoreOptions(target_root=zk_root + "/dst", mode="fail")
    with pytest.raises(RestoreError, match="already exist"):
        restore(zk_settings, opener(source), options)
    assert not zk_client.exists(zk_root + "/dst/c")


def test_dry_run_reports_the_diff_and_writes_nothing(zk_client, zk_settings, zk_root, source):
    zk_client.create(zk_root + "/dst/a", b"local", makepath=True)
    options = RestoreOptions(target_root=zk_root + "/dst", mode="overwrite", dry_run=True)
    summary = restore(zk_settings, opener(source), options)
    assert f"create {zk_root}/dst/c" in summary.diff
    assert f"update {zk_root}/dst/a (data)" in summary.diff
    assert (summary.created, summary.updated) == (2, 1)
    assert zk_client.get_children(zk_root + "/dst") == ["a"]


def test_rerun_after_a_partial_restore_completes_it(zk_client, zk_settings, zk_root, source):
    target = zk_root + "/dst"
    restore(zk_settings, opener(source), RestoreOptions(target_root=target))
    zk_client.delete(target + "/a", recursive=True)  # as if the first run had stopped early
    summary = restore(zk_settings, opener(source), RestoreOptions(target_root=target))
    assert (summary.created, summary.skipped) == (2, 2)
    assert tree(zk_client, target) == tree(zk_client, zk_root + "/src")


def test_sequential_counter_is_padded_to_the_saved_value(zk_client, zk_settings, zk_root):
    zk_client.create(zk_root + "/q", makepath=True)
    for _ in range(5):
        zk_client.create(zk_root + "/q/item-", sequence=True)
    for n in (0, 1, 3):
        zk_client.delete(f"{zk_root}/q/item-{n:010d}")
    stream = dumped(zk_settings, zk_root + "/q")
    summary = restore(zk_settings, opener(stream), RestoreOptions(target_root=zk_root + "/r"))
    assert summary.sequence_padded == 3
    assert zk_client.create(zk_root + "/r/item-", sequence=True).endswith("item-0000000005")
    assert sorted(zk_client.get_children(zk_root + "/r")) == [
        "item-0000000002",
        "item-0000000004",
        "item-0000000005",
    ]


def test_near_one_megabyte_values_restore_alone(zk_client, zk_settings, zk_root):
    big = bytes(range(256)) * 4090  # 1,047,040 bytes: only fits a request of its own
    zk_client.create(zk_root + "/big/one", big, makepath=True)
    zk_client.create(zk_root + "/big/two", big)
    stream = dumped(zk_settings, zk_root + "/big")
    restore(zk_settings, opener(stream), RestoreOptions(target_root=zk_root + "/copy"))
    assert zk_client.get(zk_root + "/copy/one")[0] == big
    assert zk_client.get(zk_root + "/copy/two")[0] == big


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda s: s[: len(s) // 2], "truncated"),
        (lambda s: s.replace(b"leaf", b"lEaf"), "checksum mismatch"),
        (lambda s: s[:8] + b"\x00\x07" + s[10:], "unsupported stream format version 7"),
        (lambda s: b"PK\x03\x04" + s[4:], "not a zkstash stream"),
    ],
    ids=["truncated", "corrupted", "wrong-version", "foreign"],
)
def test_damaged_stream_is_refused_and_nothing_is_written(
    zk_client, zk_settings, zk_root, source, damage, reason
):
    with pytest.raises(RestoreError, match=reason):
        restore(zk_settings, opener(damage(source)), RestoreOptions(target_root=zk_root + "/x"))
    assert not zk_client.exists(zk_root + "/x")


def test_unknown_mode_is_rejected(zk_settings, source):
    with pytest.raises(RestoreError, match="restore mode 'merge'"):
        restore(zk_settings, opener(source), RestoreOptions(mode="merge"))  # type: ignore[arg-type]


@pytest.fixture
def redacted_stream(zk_client, zookeeper, zk_root) -> bytes:
    """/src dumped by `reader`, who may read it but not administer it: the server shows the
    owner's digest id as `owner:x`."""
    from executor.zk.connection import ZkConnectionSettings

    reader_acl = make_digest_acl("reader", "pw", read=True)
    owner_acl = make_digest_acl("owner", "owner-pw", all=True)
    zk_client.create(zk_root + "/src", b"s", acl=[reader_acl, owner_acl], makepath=True)
    zk_client.create(zk_root + "/src/child", b"c", acl=[reader_acl, owner_acl])
    return dumped(ZkConnectionSettings(zookeeper.hosts, "digest", "reader", "pw"), zk_root + "/src")


def test_stream_with_redacted_acls_is_refused_before_any_write(
    zk_client, zk_settings, zk_root, redacted_stream
):
    with pytest.raises(RestoreError, match=r"2 znodes in the stream have digest ACLs redacted"):
        restore(zk_settings, opener(redacted_stream), RestoreOptions(target_root=zk_root + "/x"))
    assert not zk_client.exists(zk_root + "/x")


def test_refusal_of_redacted_acls_names_the_nodes_and_the_flag(
    zk_settings, zk_root, redacted_stream
):
    with pytest.raises(RestoreError) as refused:
        restore(zk_settings, opener(redacted_stream), RestoreOptions(target_root=zk_root + "/x"))
    assert f"({zk_root}/src, {zk_root}/src/child)" in str(refused.value)
    assert "--allow-redacted-acls" in str(refused.value)


def test_allowing_redacted_acls_restores_them_as_saved_with_a_warning(
    zk_client, zk_settings, zk_root, redacted_stream
):
    options = RestoreOptions(target_root=zk_root + "/x", allow_redacted_acls=True)
    summary = restore(zk_settings, opener(redacted_stream), options)
    assert summary.created == 2
    assert "restored as saved (--allow-redacted-acls)" in summary.warnings[0]
    saved_ids = sorted(entry.id.id for entry in zk_client.get_acls(zk_root + "/x/child")[0])
    assert saved_ids[0] == "owner:x"


def test_a_stream_without_redacted_acls_restores_without_warnings(zk_settings, zk_root, source):
    summary = restore(zk_settings, opener(source), RestoreOptions(target_root=zk_root + "/y"))
    assert summary.warnings == []
