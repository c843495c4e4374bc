"""load_documents: multi-document YAML in, Kubernetes objects out; InputError names the place."""

import pytest

from schemas.loader import InputError, load_documents

NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_every_document_is_returned_and_empty_ones_skipped(tmp_path):
    path = write(
        tmp_path, "two.yaml", f"---\n{NAMESPACE}---\n---\n{NAMESPACE.replace('demo', 'prod')}"
    )
    assert [d["metadata"]["name"] for d in load_documents(path)] == ["demo", "prod"]


def test_directory_is_read_in_file_name_order(tmp_path):
    write(tmp_path, "10-b.yaml", NAMESPACE.replace("demo", "b"))
    write(tmp_path, "00-a.yml", NAMESPACE.replace("demo", "a"))
    write(tmp_path, "README.md", "not yaml: [")
    assert [d["metadata"]["name"] for d in load_documents(tmp_path)] == ["a", "b"]


def test_timestamps_stay_strings_as_kubectl_reads_them(tmp_path):
    path = write(tmp_path, "t.yaml", NAMESPACE + "  annotations:\n    at: 2026-11-25T10:00:00Z\n")
    assert load_documents(path)[0]["metadata"]["annotations"]["at"] == "2026-11-25T10:00:00Z"


def test_list_kind_contributes_its_items(tmp_path):
    path = write(
        tmp_path,
        "list.yaml",
        "apiVersion: v1\nkind: List\nitems:\n"
        "- {apiVersion: v1, kind: Namespace, metadata: {name: x}}\n",
    )
    assert load_documents(path) == [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}
    ]


def test_malformed_yaml_names_file_line_and_column(tmp_path):
    path = write(tmp_path, "bad.yaml", NAMESPACE + "spec: {a: [1, 2}\n")
    with pytest.raises(InputError) as caught:
        load_documents(path)
    assert str(caught.value).startswith(f"{path}: line 5, column 16: malformed YAML:")


def test_document_that_is_not_a_mapping_is_named_by_index(tmp_path):
    path = write(tmp_path, "list.yaml", f"{NAMESPACE}---\n- a\n- b\n")
    with pytest.raises(
        InputError, match=r"list.yaml: document 2: expected a Kubernetes object .* got a list"
    ):
        load_documents(path)


def test_document_without_kind_is_named_by_index_and_name(tmp_path):
    path = write(tmp_path, "nokind.yaml", "apiVersion: v1\nmetadata: {name: demo}\n")
    with pytest.raises(InputError, match=r"nokind.yaml: document 1 \(demo\): kind is missing"):
        load_documents(path)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match=r"absent\.yaml: no such file"):
        load_documents(tmp_path / "absent.yaml")


def test_binary_file_is_an_input_error(tmp_path):
    path = tmp_path / "blob.yaml"
    path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(InputError, match=r"blob\.yaml: not UTF-8 text"):
        load_documents(path)
