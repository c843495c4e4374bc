"""The Snapshot a BackupSession needs in each of its repositories (shared by the Repository
controller, which owns Snapshots, and the BackupSession controller, which reports on them).

Snapshots are children of their Repository so that they outlive BackupSessions; both sides
build the same object here so name, labels and ``snapshotID`` agree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from hooks import names

STORAGE_API = "storage.kubestash.com/v1alpha1"
CORE_API = "core.kubestash.com/v1alpha1"
SNAPSHOT_VERSION = "v1"

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _crockford(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return "".join(reversed(chars))


def snapshot_id(backup_session: Mapping[str, Any], repository: str) -> str:
    """A ULID-shaped id (26 Crockford base32 characters), derived, never random.

    The 48-bit time part is the BackupSession's creation time in milliseconds (from its
    ``creationTimestamp``, else the unix suffix of its name); the 80-bit rest is a hash of the
    BackupSession's uid and name and the repository name, so every snapshot id is distinct
    and the same request always yields the same id.
    """
    metadata = backup_session.get("metadata") or {}
    name = str(metadata.get("name") or "")
    created = metadata.get("creationTimestamp")
    try:
        millis = names.unix_seconds(str(created)) * 1000 if created else 0
    except ValueError:
        millis = 0
    if not millis:
        suffix = name.rpartition("-")[2]
        millis = int(suffix) * 1000 if suffix.isdigit() else 0
    digest = hashlib.sha256(f"{metadata.get('uid', '')}/{name}/{repository}".encode()).digest()
    entropy = int.from_bytes(digest[:10], "big")
    return _crockford(((millis & (2**48 - 1)) << 80) | entropy, 26)


def session_repository_names(
    backup_configuration: Mapping[str, Any], session_name: str
) -> list[str]:
    """Names of the repositories a BackupConfiguration session backs up into."""
    for session in (backup_configuration.get("spec") or {}).get("sessions") or ():
        if isinstance(session, Mapping) and session.get("name") == session_name:
            return [
                str(r["name"])
                for r in session.get("repositories") or ()
                if isinstance(r, Mapping) and r.get("name")
            ]
    return []


def desired_snapshot(
    repository: Mapping[str, Any], backup_session: Mapping[str, Any]
) -> dict[str, Any]:
    """The Snapshot of ``backup_session`` in ``repository`` (a child of the Repository)."""
    repo_meta = repository.get("metadata") or {}
    repo_name = str(repo_meta.get("name") or "")
    namespace = str(repo_meta.get("namespace") or "")
    repo_spec = repository.get("spec") or {}
    bs_meta = backup_session.get("metadata") or {}
    bs_name = str(bs_meta.get("name") or "")
    bs_spec = backup_session.get("spec") or {}
    invoker = bs_spec.get("invoker") or {}
    session = str(bs_spec.get("session") or "")
    app_ref = dict(repo_spec.get("appRef") or {})
    deletion_policy = repo_spec.get("deletionPolicy")
    labels = {
        **names.invoker_labels(
            str(invoker.get("kind") or "BackupConfiguration"),
            str(invoker.get("name") or ""),
            str(bs_meta.get("namespace") or namespace),
        ),
        **names.app_ref_labels(app_ref, namespace),
        names.LABEL_REPO_NAME: repo_name,
        names.LABEL_SESSION_NAME: session,
        names.LABEL_BACKUP_SESSION: bs_name,
    }
    return {
        "apiVersion": STORAGE_API,
        "kind": "Snapshot",
        "metadata": {
            "name": names.snapshot_name(repo_name, bs_name),
            "namespace": namespace,
            "labels": labels,
        },
        "spec": {
            "snapshotID": snapshot_id(backup_session, repo_name),
            "type": "FullBackup",
            "repository": repo_name,
            "session": session,
            "backupSession": bs_name,
            "version": SNAPSHOT_VERSION,
            "appRef": app_ref,
            "deletionPolicy": deletion_policy if deletion_policy == "WipeOut" else "Delete",
        },
    }
