"""Every Kubernetes object under manifests/ and examples/, found the same way for every test.

Files are discovered, not listed, so manifests added later are covered automatically. A YAML
document counts as an object when it has apiVersion and kind; kustomize's own files and the
patches a kustomization applies (partial objects) are left out.
"""

from pathlib import Path
from typing import Any

import yaml

from schemas.loader import read_documents, yaml_files

REPO = Path(__file__).resolve().parents[2]
ROOTS = (REPO / "manifests", REPO / "examples")
KUSTOMIZE_GROUP = "kustomize.config.k8s.io"


def _patch_files() -> set[Path]:
    """Files that kustomizations use as patches (partial objects, not valid on their own)."""
    patches: set[Path] = set()
    for root in ROOTS:
        for kustomization in root.rglob("kustomization.yaml"):
            spec = yaml.safe_load(kustomization.read_text(encoding="utf-8")) or {}
            for entry in spec.get("patches", []) + spec.get("patchesStrategicMerge", []):
                target = entry.get("path") if isinstance(entry, dict) else entry
                if isinstance(target, str) and "\n" not in target:
                    patches.add((kustomization.parent / target).resolve())
    return patches


def _is_object(doc: Any) -> bool:
    return isinstance(doc.get("apiVersion"), str) and isinstance(doc.get("kind"), str)


def _documents(path: Path) -> list[dict[str, Any]]:
    """The documents of a file; files that are not YAML objects (e.g. a Grafana dashboard's
    JSON, kustomize configurations) contribute nothing."""
    with path.open(encoding="utf-8") as stream:
        docs = [doc for doc in yaml.safe_load_all(stream) if isinstance(doc, dict)]
    if not any(_is_object(doc) for doc in docs):
        return []
    return [doc for _, doc in read_documents(path)]


def all_objects() -> list[tuple[str, dict[str, Any]]]:
    """``(where, object)`` for every object under manifests/ and examples/."""
    patches = _patch_files()
    found = []
    for root in ROOTS:
        for path in yaml_files(root, recursive=True):
            if path.resolve() in patches:
                continue
            for index, doc in enumerate(_documents(path)):
                if doc["apiVersion"].split("/")[0] == KUSTOMIZE_GROUP:
                    continue
                name = (doc.get("metadata") or {}).get("name", "?")
                found.append((f"{path.relative_to(REPO)}#{index}:{doc['kind']}/{name}", doc))
    return found
