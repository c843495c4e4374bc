"""Why a Job's pod cannot start, read from the kubelet's waiting state of its containers.

A ``secretKeyRef`` naming a Secret that does not exist does not fail the Job: the kubelet keeps
the pod Pending with the container waiting, reason ``CreateContainerConfigError`` and a message
such as ``secret "s3-secret" not found`` (or ``couldn't find key password in Secret demo/x``),
and starts it once the Secret is there. Controllers that are not sent the Secrets themselves
learn of a missing one this way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hooks.jobs import pods_of_job

CREATE_CONTAINER_CONFIG_ERROR = "CreateContainerConfigError"

# The kubelet's NotFound error for the Secret of a secretKeyRef/envFrom (resource "secret").
_SECRET_NOT_FOUND = re.compile(r'^secrets? "(?P<name>[^"]+)" not found$')


@dataclass(frozen=True)
class ConfigWait:
    """A container the kubelet cannot configure: its message, and the missing Secret if that
    is the reason."""

    container: str
    message: str
    missing_secret: str | None


def _waiting_statuses(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    status = pod.get("status") or {}
    statuses = [
        *(status.get("initContainerStatuses") or ()),
        *(status.get("containerStatuses") or ()),
    ]
    return [s for s in statuses if isinstance(s, Mapping)]


def config_waits(job: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> list[ConfigWait]:
    """The containers of the Job's newest pod that wait in ``CreateContainerConfigError``."""
    own_pods = pods_of_job(job, pods)
    if not own_pods:
        return []
    waits = []
    for status in _waiting_statuses(own_pods[-1]):
        waiting = (status.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") != CREATE_CONTAINER_CONFIG_ERROR:
            continue
        message = str(waiting.get("message") or "")
        match = _SECRET_NOT_FOUND.match(message.strip())
        waits.append(
            ConfigWait(
                container=str(status.get("name") or ""),
                message=message,
                missing_secret=match.group("name") if match else None,
            )
        )
    return waits
