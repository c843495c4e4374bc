"""Controller registry: URL name → module with ``sync`` (and optional ``customize``,
``finalize``), each a pure function ``(SyncRequest) -> response dict``.

Add a controller with one line below.
"""

from types import ModuleType

from hooks.controllers import (
    backupblueprint,
    backupconfiguration,
    backupsession,
    backupstorage,
    repository,
    restoresession,
    snapshot,
)

CONTROLLERS: dict[str, ModuleType] = {
    "backupblueprint": backupblueprint,
    "backupconfiguration": backupconfiguration,
    "backupsession": backupsession,
    "backupstorage": backupstorage,
    "repository": repository,
    "restoresession": restoresession,
    "snapshot": snapshot,
}
