"""The dump stream format: round trip of records, and every kind of damage is refused."""

from __future__ import annotations

import io
import struct

import pytest

from executor.stream import (
    FLAG_EPHEMERAL,
    TRAILER_SEARCH,
    AclEntry,
    NodeRecord,
    StreamError,
    StreamHeader,
    StreamWriter,
    acl_version,
    acl_versions,
    decode_node,
    encode_node,
    ends_with_trailer,
    path_key,
    records,
    verify,
)

STAT = (1, 2, 3, 4, 5, 6, 7, 0, 3, 0, 9)
OPEN = (AclEntry(31, "world", "anyone"),)


def record(path: str, data: bytes | None = b"v", **kw) -> NodeRecord:
    return NodeRecord(path, data, STAT, kw.pop("acl", OPEN), kw.pop("sequence", 0), **kw)


def make_stream(paths: list[str], root: str = "/") -> bytes:
    out = io.BytesIO()
    writer = StreamWriter(out, StreamHeader(root=root, server_version="3.8.0"))
    for path in paths:
        writer.node(record(path))
    writer.finish(zxid_start=5, zxid_end=7)
    return out.getvalue()


SAMPLE = make_stream(["/", "/a", "/a/b", "/a-c", "/b"])


def test_node_record_round_trips_binary_data_unicode_and_acls():
    original = NodeRecord(
        "/ünï/cødé/✓",
        b"\x00\xff\x00binary\n",
        STAT,
        (AclEntry(1, "digest", "app:hash="), AclEntry(31, "ip", "10.0.0.0/8")),
        sequence=42,
        flags=FLAG_EPHEMERAL,
    )
    assert decode_node(encode_node(original)) == original


def test_null_and_empty_data_stay_distinct():
    assert decode_node(encode_node(record("/n", None))).data is None
    assert decode_node(encode_node(record("/e", b""))).data == b""


def test_path_key_orders_a_parent_directly_before_its_subtree():
    paths = ["/a-c", "/a/b", "/", "/a", "/b"]
    assert sorted(paths, key=path_key) == ["/", "/a", "/a/b", "/a-c", "/b"]


def test_verify_returns_counts_checksum_and_zxid_window():
    summary = verify(io.BytesIO(SAMPLE))
    assert (summary.znodes, summary.bytes) == (5, len(SAMPLE))
    assert (summary.zxid_start, summary.zxid_end) == (5, 7)
    assert summary.header.root == "/"
    assert len(summary.sha256) == 64


def test_records_come_back_in_order():
    assert [r.path for r in records(io.BytesIO(SAMPLE))] == ["/", "/a", "/a/b", "/a-c", "/b"]


def test_identical_trees_give_identical_bytes_before_the_trailer():
    first, second = make_stream(["/", "/x"]), make_stream(["/", "/x"])
    assert first == second


@pytest.mark.parametrize("cut", [5, 12, 40, len(SAMPLE) - 1, len(SAMPLE) - 30])
def test_truncated_stream_is_refused(cut):
    with pytest.raises(StreamError, match="truncated"):
        verify(io.BytesIO(SAMPLE[:cut]))


def test_empty_input_is_refused_as_empty():
    with pytest.raises(StreamError, match="the stream is empty"):
        verify(io.BytesIO(b""))


def test_flipped_data_byte_fails_the_checksum():
    damaged = bytearray(SAMPLE)
    damaged[SAMPLE.index(b"/a/b") + 20] ^= 0x01  # inside the stat of /a/b
    with pytest.raises(StreamError, match="checksum"):
        verify(io.BytesIO(bytes(damaged)))


def test_reordered_records_are_refused():
    out = io.BytesIO()
    writer = StreamWriter(out, StreamHeader(root="/"))
    writer.node(record("/a"))
    writer._last_key = None  # bypass the writer's own order check to forge a bad stream
    writer.node(record("/", b""))
    writer.finish(0, 0)
    with pytest.raises(StreamError, match="out of order"):
        verify(io.BytesIO(out.getvalue()))


def test_writer_refuses_out_of_order_nodes():
    writer = StreamWriter(io.BytesIO(), StreamHeader(root="/"))
    writer.node(record("/b"))
    with pytest.raises(ValueError, match="out of order"):
        writer.node(record("/a"))


def test_wrong_format_version_is_refused():
    damaged = SAMPLE[:8] + struct.pack(">H", 2) + SAMPLE[10:]
    with pytest.raises(StreamError, match="unsupported stream format version 2"):
        verify(io.BytesIO(damaged))


def test_foreign_data_is_refused():
    with pytest.raises(StreamError, match="not a zkstash stream"):
        verify(io.BytesIO(b'{"/": {"content": ""}}' * 10))


def test_data_after_the_trailer_is_refused():
    with pytest.raises(StreamError, match="after the trailer"):
        verify(io.BytesIO(SAMPLE + b"x"))


def test_node_outside_the_root_is_refused():
    with pytest.raises(StreamError, match="outside the dump root"):
        verify(io.BytesIO(make_stream(["/app", "/other"], root="/app")))


def test_the_end_of_a_complete_stream_shows_its_trailer():
    assert ends_with_trailer(SAMPLE[-TRAILER_SEARCH:], len(SAMPLE))


def test_the_end_of_a_stream_cut_anywhere_shows_no_trailer():
    """What restic 0.14 commits when the producer dies: any prefix of the stream."""
    cuts = [SAMPLE[:length] for length in range(len(SAMPLE))]
    assert not any(ends_with_trailer(cut[-TRAILER_SEARCH:], len(cut)) for cut in cuts)


def test_a_trailer_at_the_wrong_offset_is_not_an_end():
    """A whole stream's bytes inside a longer stream do not end the longer one."""
    longer = b"x" * 7 + SAMPLE
    assert not ends_with_trailer(longer, len(longer))


def test_acl_versions_give_each_records_acl_under_its_version_key():
    read = list(acl_versions(io.BytesIO(SAMPLE)))
    expected = [
        (r.path, acl_version(r.path, r.stat[0], r.stat[2], r.stat[6]), r.acl)
        for r in records(io.BytesIO(SAMPLE))
    ]
    assert [(v.path, v.version, v.acl) for v in read] == expected
    assert len(read) == 5


def test_acl_versions_of_a_cut_stream_give_the_records_before_the_cut_then_fail():
    read = []
    inside_the_last_node = SAMPLE.rindex(b"/b") + 1
    with pytest.raises(StreamError, match="truncated"):
        for version in acl_versions(io.BytesIO(SAMPLE[:inside_the_last_node])):
            read.append(version.path)
    assert read == ["/", "/a", "/a/b", "/a-c"]
