"""Read Kubernetes objects from YAML files: multi-document, with errors a user can act on.

Values are read as kubectl reads them, except that timestamps stay strings (kubectl turns YAML
into JSON, where a timestamp is a string; PyYAML would make it a datetime).
"""

from pathlib import Path
from typing import Any

import yaml

YAML_SUFFIXES = (".yaml", ".yml", ".json")


class InputError(Exception):
    """A file or document that cannot be read as Kubernetes objects; the message names the file,
    the document and the problem."""


class _KubernetesYamlLoader(yaml.SafeLoader):
    """SafeLoader that keeps timestamps as strings."""


_KubernetesYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _describe_document(index: int, doc: Any) -> str:
    """``document 2 (BackupStorage/s3-storage)`` — as much as is known about the document."""
    label = f"document {index}"
    if isinstance(doc, dict):
        kind = doc.get("kind")
        metadata = doc.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        known = "/".join(str(part) for part in (kind, name) if part)
        if known:
            label += f" ({known})"
    return label


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror})") from None


def _parse_all(path: Path, text: str) -> list[Any]:
    try:
        return list(yaml.load_all(text, Loader=_KubernetesYamlLoader))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = error.problem or error.context or "malformed YAML"
        raise InputError(f"{path}: {where}malformed YAML: {problem}") from None
    except yaml.YAMLError as error:
        raise InputError(f"{path}: malformed YAML: {error}") from None


def read_documents(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """The objects in one YAML file as ``(document number, object)``, numbered from 1 and
    counting empty documents (which are skipped). A ``v1`` ``List`` contributes its items."""
    path = Path(path)
    documents: list[tuple[int, dict[str, Any]]] = []
    for index, doc in enumerate(_parse_all(path, _read_text(path)), start=1):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            kind = "a list" if isinstance(doc, list) else f"{type(doc).__name__} {doc!r:.40}"
            raise InputError(
                f"{path}: {_describe_document(index, doc)}: expected a Kubernetes object"
                f" (a mapping with apiVersion and kind), got {kind}"
            )
        for key in ("apiVersion", "kind"):
            if not isinstance(doc.get(key), str) or not doc.get(key):
                raise InputError(f"{path}: {_describe_document(index, doc)}: {key} is missing")
        if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            for item in doc["items"]:
                if not isinstance(item, dict):
                    raise InputError(
                        f"{path}: {_describe_document(index, doc)}: items must be objects"
                    )
                documents.append((index, item))
        else:
            documents.append((index, doc))
    return documents


def yaml_files(path: str | Path, *, recursive: bool = False) -> list[Path]:
    """The YAML/JSON files of a directory in name order (``kubectl apply -f DIR`` order), or
    the path itself when it is a file."""
    path = Path(path)
    if not path.is_dir():
        return [path]
    found = path.rglob("*") if recursive else path.iterdir()
    return sorted(p for p in found if p.is_file() and p.suffix in YAML_SUFFIXES)


def load_documents(path: str | Path) -> list[dict[str, Any]]:
    """Every Kubernetes object in a YAML file, or in a directory's YAML files in name order.

    Raises InputError (never a YAML traceback) for unreadable files, malformed YAML (with line
    and column) and documents that are not Kubernetes objects (naming the document).
    """
    return [doc for file in yaml_files(path) for _, doc in read_documents(file)]
