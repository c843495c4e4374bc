"""Which related objects a hook may read: those of our kinds must match their schema.

A related object is someone's input too (a BackupStorage, a BackupConfiguration, a Function
of the catalog, an AppBinding): a spec of the wrong shape there is a user's mistake, not a
reason to crash. ``hooks.protocol`` asks ``problem`` about every related object when it parses
a request; an object with a problem is left out of the index, as if it did not exist, and the
problem is kept so a controller can say exactly what made the object unusable. Objects of
kinds we do not serve (Namespace, Secret, Pod, Job) are read only where their shape is fixed
by the API server, and are admitted as they are; kinds others write are checked loosely.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hooks import validity
from schemas.registry import kind_for

# Kinds others write: KubeDB writes AppBindings, and the Addon catalog may be KubeStash's own.
# Only the types of the fields their CRD schema declares are checked, so a field this project
# does not know (a newer release of theirs) never makes one unusable. Our own kinds are checked
# fully: their CRDs prune unknown fields, so a valid object never has one.
FOREIGN_KINDS = frozenset(
    {
        ("appcatalog.appscode.com/v1alpha1", "AppBinding"),
        ("addons.kubestash.com/v1alpha1", "Addon"),
        ("addons.kubestash.com/v1alpha1", "Function"),
    }
)


def where(kind: str, namespace: str, name: str) -> str:
    """How a message names an object: ``Kind namespace/name`` (``Kind name`` cluster-scoped)."""
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def problem(
    kind: str, api_version: str, obj: Mapping[str, Any], address: tuple[str, str]
) -> str | None:
    """Why the related ``obj`` (filed under ``kind``/``api_version`` at ``address``, its
    (namespace, name)) cannot be read, naming it and the field; None when it can."""
    if kind_for(api_version, kind) is None:
        return None
    if (api_version, kind) in FOREIGN_KINDS:
        found = validity.loose_problems(obj, kind, api_version)
    else:
        found = validity.problems(obj, kind, api_version)
    if not found:
        return None
    return f"{where(kind, *address)}: {validity.summary(found)}"
