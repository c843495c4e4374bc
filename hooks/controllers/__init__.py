"""Controller registry: URL name → module with ``sync`` (and optional ``customize``,
``finalize``), each a pure function ``(SyncRequest) -> response dict``.

Add a controller with one line below.
"""

from types import ModuleType

CONTROLLERS: dict[str, ModuleType] = {}

from hooks.controllers import backupstorage, repository, snapshot  # noqa: E402  (storage side)

CONTROLLERS.update(backupstorage=backupstorage, repository=repository, snapshot=snapshot)
