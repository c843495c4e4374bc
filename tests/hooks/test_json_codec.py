"""The hooks' JSON codec: fast, but it reads what the standard library reads and writes the same
bytes for the same value."""

import json
import math

import pytest

from hooks.protocol import decode_json, encode_json, json_thawer

BEYOND_64_BITS = [2**64, -(2**63) - 1, 123456789012345678901234567890]


def test_encoding_is_compact_with_keys_sorted_at_every_depth():
    assert encode_json({"b": 1, "a": {"d": [1, {"z": 0, "y": 0}], "c": None}}) == (
        b'{"a":{"c":null,"d":[1,{"y":0,"z":0}]},"b":1}'
    )


def test_equal_values_built_in_different_orders_give_identical_bytes():
    first = {"status": {"phase": "Ready", "conditions": []}, "children": [{"kind": "Job"}]}
    second = {"children": [{"kind": "Job"}], "status": {"conditions": [], "phase": "Ready"}}
    assert encode_json(first) == encode_json(second)


def test_integers_are_written_as_integers():
    assert encode_json({"resyncAfterSeconds": 30, "generation": 2**63 - 1}) == (
        b'{"generation":9223372036854775807,"resyncAfterSeconds":30}'
    )


def test_text_is_written_as_utf8_that_reads_back_unchanged():
    value = {"message": "Sicherung für zk-prod fehlgeschlagen ✗"}
    assert json.loads(encode_json(value)) == value


@pytest.mark.parametrize("number", BEYOND_64_BITS)
def test_integers_beyond_64_bits_are_written_exactly(number):
    assert encode_json({"n": number}) == f'{{"n":{number}}}'.encode()


def test_keys_that_are_not_text_are_written_as_the_standard_library_does():
    assert encode_json({2: "b", 1: "a"}) == b'{"1":"a","2":"b"}'


def test_decoding_reads_what_the_standard_library_reads():
    text = b'{"a": [1, -0, 2.5, 1e3, true, null, "\\u00fc\\n"], "a2": {"": {}}}'
    assert decode_json(text) == json.loads(text)


@pytest.mark.parametrize("number", BEYOND_64_BITS)
def test_integers_beyond_64_bits_stay_integers(number):
    decoded = decode_json(f'{{"n": {number}}}'.encode())
    assert decoded == {"n": number} and type(decoded["n"]) is int


def test_a_long_run_of_digits_inside_a_string_reads_as_the_string():
    assert decode_json(b'{"sha256": "0000000000000000000000000000000000000000"}') == {
        "sha256": "0" * 40
    }


def test_nan_and_utf16_text_are_read_as_the_standard_library_reads_them():
    assert math.isnan(decode_json(b'{"x": NaN}')["x"])
    assert decode_json('{"name": "zk"}'.encode("utf-16")) == {"name": "zk"}


def test_text_given_as_str_is_read_too():
    assert decode_json('{"kind": "Repository", "spec": {"n": 3}}') == {
        "kind": "Repository",
        "spec": {"n": 3},
    }


@pytest.mark.parametrize("text", [b"", b"{", b'{"a": }', b"[1, 2", b"\xff"])
def test_text_that_is_not_json_raises_value_error(text):
    with pytest.raises(ValueError):
        decode_json(text)


@pytest.mark.parametrize(
    "text",
    [
        b'{"kind": "CronJob", "spec": {"schedule": "*/5 * * * *", "suspend": false, "n": 3}}',
        b'{"ratio": 1e-05, "big": 1e16, "text": "\\u00fc", "missing": null}',
        b'{"n": 123456789012345678901234567890, "below": -9223372036854775809}',
        b'{"x": NaN, "y": [Infinity, -Infinity]}',
        '{"name": "zk"}'.encode("utf-16"),
    ],
    ids=["plain", "floats and text", "beyond 64 bits", "nan and infinities", "utf-16"],
)
def test_a_thawer_gives_what_decode_json_reads(text):
    thawed = json_thawer(text)()
    assert json.dumps(thawed) == json.dumps(decode_json(text))
    assert [type(v) for v in thawed.values()] == [type(v) for v in decode_json(text).values()]


def test_each_thaw_gives_a_new_value_that_can_be_changed_freely():
    thaw = json_thawer(b'{"metadata": {"labels": {"a": "1"}}}')
    first = thaw()
    first["metadata"]["labels"]["a"] = "changed"
    assert thaw() == {"metadata": {"labels": {"a": "1"}}}


@pytest.mark.parametrize("text", [b"", b"{", b'{"a": }', b"\xff"])
def test_a_thawer_of_text_that_is_not_json_raises_value_error_at_once(text):
    with pytest.raises(ValueError):
        json_thawer(text)
