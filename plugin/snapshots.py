"""`kubectl zkstash snapshots`: the Snapshots of a namespace (or all), optionally of one
Repository, as a table of what users ask first: which repository and session, when, how big,
and whether it succeeded."""

from __future__ import annotations

from typing import Any

from plugin.api import SNAPSHOT, Resources

REPO_LABEL = "kubestash.com/repo-name"


def list_snapshots(
    resources: Resources, namespace: str | None, repository: str | None
) -> list[dict[str, Any]]:
    """Snapshots oldest first (by snapshot time, then name); `namespace=None` is every one."""
    selector = f"{REPO_LABEL}={repository}" if repository else ""
    found = resources.list(SNAPSHOT, namespace, selector)
    if repository:
        # The label is KubeStash's; a hand-made Snapshot may carry only spec.repository.
        found = [s for s in found if (s.get("spec") or {}).get("repository") == repository]
    return sorted(found, key=lambda s: (_time(s), s["metadata"]["name"]))


def _time(snapshot: dict[str, Any]) -> str:
    status = snapshot.get("status") or {}
    return str(status.get("snapshotTime") or snapshot["metadata"].get("creationTimestamp") or "")


def restic_snapshot_id(snapshot: dict[str, Any]) -> str:
    """The restic snapshot id the executor reported for the `dump` component ("" if none yet)."""
    component = ((snapshot.get("status") or {}).get("components") or {}).get("dump") or {}
    stats = component.get("resticStats") or [{}]
    return str(((stats[0] or {}).get("summary") or {}).get("id") or "")


def table_rows(
    snapshots: list[dict[str, Any]], all_namespaces: bool, wide: bool
) -> tuple[list[str], list[list[str]]]:
    """Headers and rows: NAME, REPOSITORY, SESSION, TIME, SIZE, PHASE (+ NAMESPACE with -A,
    + BACKUPSESSION and RESTIC-ID with -o wide)."""
    headers = ["NAME", "REPOSITORY", "SESSION", "TIME", "SIZE", "PHASE"]
    headers = (["NAMESPACE"] if all_namespaces else []) + headers
    if wide:
        headers += ["BACKUPSESSION", "RESTIC-ID"]
    rows = []
    for snapshot in snapshots:
        spec = snapshot.get("spec") or {}
        status = snapshot.get("status") or {}
        row = [snapshot["metadata"].get("namespace", "")] if all_namespaces else []
        row += [
            snapshot["metadata"]["name"],
            str(spec.get("repository") or ""),
            str(spec.get("session") or ""),
            str(status.get("snapshotTime") or ""),
            str(status.get("size") or ""),
            str(status.get("phase") or "Pending"),
        ]
        if wide:
            row += [str(spec.get("backupSession") or ""), restic_snapshot_id(snapshot)[:8]]
        rows.append(row)
    return headers, rows
