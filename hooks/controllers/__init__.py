"""Controller registry: URL name → module with ``sync`` (and optional ``customize``,
``finalize``), each a pure function ``(SyncRequest) -> response dict``.

Add a controller with one line below.
"""

from types import ModuleType

CONTROLLERS: dict[str, ModuleType] = {}
