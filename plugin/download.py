"""`kubectl zkstash download SNAPSHOT`: fetch a Snapshot's zkstash stream to a local file.

Snapshot → Repository (path, encryptionSecret) → BackupStorage (spec.storage, secretName);
the two Secrets are read through the API and reach restic only as its environment, through
the executor's own repository layout (`executor.backends`) and `restic dump`
(`executor.restic`), which is the restore path's first half. The file is verified (trailer
count and sha256, `executor.stream.verify`) before it gets its final name, so a file at the
printed path is always a complete stream.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from executor.backends import (
    REPOSITORY_VARIABLES,
    SpecError,
    base_environment,
    parse_repository,
    secret_values,
)
from executor.restic import ResticError, ResticRepository
from executor.stream import StreamError, verify
from hooks.controllers.backupstorage import secret_name
from plugin.api import BACKUP_STORAGE, REPOSITORY, SNAPSHOT, Resources
from plugin.errors import PluginError
from plugin.snapshots import restic_snapshot_id

STREAM_SUFFIX = ".zkdump"


@dataclass(frozen=True)
class Source:
    """Where a Snapshot's data is: the restic repository (with its secret environment) and id."""

    snapshot: str
    restic_id: str
    repository_spec: str  # executor --repository JSON: no secret in it
    session: str
    environment: Mapping[str, str]  # secret values: never printed


@dataclass(frozen=True)
class Downloaded:
    """The written stream file and what verification found in it."""

    path: Path
    snapshot: str
    restic_id: str
    znodes: int
    bytes: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        """For `-o json`."""
        return {
            "file": str(self.path),
            "snapshot": self.snapshot,
            "resticSnapshotId": self.restic_id,
            "znodes": self.znodes,
            "bytes": self.bytes,
            "sha256": self.sha256,
        }


def _ref(obj: Mapping[str, Any] | None, default_namespace: str) -> tuple[str, str]:
    ref = obj or {}
    return str(ref.get("namespace") or default_namespace), str(ref.get("name") or "")


def resolve(resources: Resources, namespace: str, name: str) -> Source:
    """Follow the Snapshot to its repository and credentials."""
    snapshot = resources.get(SNAPSHOT, namespace, name)
    phase = (snapshot.get("status") or {}).get("phase") or "Pending"
    restic_id = restic_snapshot_id(snapshot)
    if phase != "Succeeded" or not restic_id:
        raise PluginError(
            f"Snapshot {namespace}/{name} is {phase}: "
            "only a Succeeded Snapshot has data to download"
        )
    spec = snapshot.get("spec") or {}
    repository = resources.get(REPOSITORY, namespace, str(spec.get("repository") or ""))
    repo_spec = repository.get("spec") or {}
    storage_ns, storage_name = _ref(repo_spec.get("storageRef"), namespace)
    if not storage_name:
        raise PluginError(
            f"Repository {namespace}/{repository['metadata']['name']} has no spec.storageRef"
        )
    storage = resources.get(BACKUP_STORAGE, storage_ns, storage_name)
    environment: dict[str, str] = {}
    credentials = secret_name(storage)
    if credentials:
        data = resources.secret_data(storage_ns, credentials)
        environment.update({k: v for k, v in data.items() if k in REPOSITORY_VARIABLES})
    secret_ns, secret = _ref(repo_spec.get("encryptionSecret"), namespace)
    if not secret:
        raise PluginError(
            f"Repository {namespace}/{repository['metadata']['name']} has no spec.encryptionSecret"
        )
    password = resources.secret_data(secret_ns, secret).get("RESTIC_PASSWORD")
    if not password:
        raise PluginError(f"Secret {secret_ns}/{secret} has no key RESTIC_PASSWORD")
    environment["RESTIC_PASSWORD"] = password
    spec_json = json.dumps(
        {
            "name": repository["metadata"]["name"],
            "storage": (storage.get("spec") or {}).get("storage") or {},
            "path": str(repo_spec.get("path") or ""),
        }
    )
    return Source(name, restic_id, spec_json, str(spec.get("session") or ""), environment)


def _scrub(text: str, secrets: list[str]) -> str:
    for value in secrets:
        text = text.replace(value, "***")
    return text


def download(source: Source, directory: Path) -> Downloaded:
    """Write `<directory>/<snapshot>.zkdump` and verify it; PluginError (no file left) if the
    repository cannot be read or the stream does not verify."""
    secrets = secret_values(source.environment)
    try:
        repository = parse_repository(source.repository_spec, source.session, source.environment)
    except SpecError as error:
        raise PluginError(f"Snapshot {source.snapshot}: {error}") from None
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{source.snapshot}{STREAM_SUFFIX}"
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - renamed into place after verify
        dir=directory, prefix=f".{source.snapshot}.", suffix=".part", delete=False
    )
    partial = Path(handle.name)
    try:
        with (
            handle,
            ResticRepository(repository, base_environment(os.environ)) as restic,
            restic.open_stream(source.restic_id) as stream,
        ):
            shutil.copyfileobj(stream, handle, 1 << 20)
        with partial.open("rb") as written:
            summary = verify(written)
        partial.replace(target)
    except ResticError as error:
        raise PluginError(
            _scrub(f"cannot read Snapshot {source.snapshot}: {error}", secrets)
        ) from None
    except StreamError as error:
        raise PluginError(
            f"Snapshot {source.snapshot} does not hold a valid stream: {error}"
        ) from None
    finally:
        partial.unlink(missing_ok=True)
    return Downloaded(
        target, source.snapshot, source.restic_id, summary.znodes, summary.bytes, summary.sha256
    )
