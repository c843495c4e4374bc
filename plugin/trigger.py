"""`kubectl zkstash trigger BC`: a BackupSession now, exactly as the trigger CronJob makes one.

Name (`<bc>-<session>-<unix seconds>`), labels and spec come from `executor.trigger`, the code
the CronJob runs; the `controller-uid=<BackupConfiguration uid>` label is what lets the
BackupConfiguration's controller adopt the session, as the CronJob's `--label` does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from executor.trigger import backup_session
from plugin.api import BACKUP_CONFIGURATION, BACKUP_SESSION, Resources
from plugin.errors import PluginError, UsageError


def session_names(bc: dict[str, Any]) -> list[str]:
    """The sessions a BackupConfiguration declares, in order."""
    sessions = (bc.get("spec") or {}).get("sessions") or []
    return [str(s.get("name")) for s in sessions if isinstance(s, dict) and s.get("name")]


def chosen_session(bc: dict[str, Any], wanted: str | None) -> str:
    """`--session`, checked against the BackupConfiguration; optional when it has only one."""
    names = session_names(bc)
    where = f"BackupConfiguration {bc['metadata'].get('namespace')}/{bc['metadata']['name']}"
    if wanted is None:
        if len(names) == 1:
            return names[0]
        if not names:
            raise PluginError(f"{where} declares no spec.sessions")
        raise UsageError(f"{where} has sessions {', '.join(names)}: choose one with --session")
    if wanted not in names:
        raise UsageError(
            f"{where} has no session {wanted!r} in spec.sessions "
            f"(it has: {', '.join(names) or 'none'})"
        )
    return wanted


def session_for(
    bc: dict[str, Any], session: str, now: Callable[[], float] = time.time
) -> dict[str, Any]:
    """The BackupSession the CronJob's `executor trigger` would create for this configuration."""
    meta = bc["metadata"]
    return backup_session(
        meta["namespace"],
        meta["name"],
        session,
        int(now()),
        {"controller-uid": str(meta.get("uid") or "")},
    )


@dataclass(frozen=True)
class Triggered:
    """The created BackupSession, and whether its configuration is paused (it will be Skipped)."""

    backup_session: dict[str, Any]
    paused: bool


def trigger(resources: Resources, namespace: str, name: str, session: str | None) -> Triggered:
    """Create the BackupSession as the server stores it."""
    bc = resources.get(BACKUP_CONFIGURATION, namespace, name)
    body = session_for(bc, chosen_session(bc, session))
    created = resources.create(BACKUP_SESSION, body)
    return Triggered(created, bool((bc.get("spec") or {}).get("paused")))
