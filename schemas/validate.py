"""Command line: ``python -m schemas.validate FILE_OR_DIR...`` checks YAML files before they
reach a cluster (for example in a GitOps repository's CI).

Prints every problem as ``file: Kind/name: path: message``; exits 1 when there is any, 0 when
every object is valid. Directories are searched recursively for .yaml/.yml/.json files. Objects
of other API groups (Namespace, Secret, …) are checked only for apiVersion, kind and name.
"""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from schemas.loader import InputError, read_documents, yaml_files
from schemas.validation import validate_document


def object_label(obj: dict[str, Any]) -> str:
    """``Kind/name`` of an object, with placeholders for what is missing."""
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return f"{obj.get('kind') or '<no kind>'}/{name or '<no name>'}"


def problem_lines(path: Path) -> list[str]:
    """One line per problem found in one file."""
    try:
        documents = read_documents(path)
    except InputError as error:
        return [str(error)]
    return [
        f"{path}: {object_label(obj)}: {problem}"
        for _, obj in documents
        for problem in validate_document(obj)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Validate the given files and directories; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m schemas.validate",
        description="Check zkstash/KubeStash YAML files; prints file: Kind/name: path: message.",
    )
    parser.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    args = parser.parse_args(argv)
    files = [file for path in args.paths for file in yaml_files(path, recursive=True)]
    lines = [line for file in files for line in problem_lines(file)]
    for line in lines:
        print(line)
    if lines:
        print(f"{len(lines)} problem(s) in {len(files)} file(s)", file=sys.stderr)
        return 1
    print(f"ok: {len(files)} file(s) valid", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
