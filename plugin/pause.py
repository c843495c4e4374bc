"""`kubectl zkstash pause|resume BC`: set `spec.paused` with a JSON merge patch.

The hooks then suspend (or resume) every trigger CronJob of the configuration; sessions
triggered while paused are Skipped.
"""

from __future__ import annotations

from typing import Any

from plugin.api import BACKUP_CONFIGURATION, Resources


def set_paused(resources: Resources, namespace: str, name: str, paused: bool) -> dict[str, Any]:
    """Patch `spec.paused` (fails with the server's NotFound if the configuration is absent)."""
    resources.get(BACKUP_CONFIGURATION, namespace, name)  # a clear NotFound before patching
    return resources.merge_patch(
        BACKUP_CONFIGURATION, namespace, name, {"spec": {"paused": paused}}
    )
