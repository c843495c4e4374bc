"""The Kubernetes "restricted" Pod Security Standard as one check over a rendered pod spec.

Written out here rather than taken from a library because no maintained Python package
evaluates Pod Security Standards; the rules follow the published profile
(https://kubernetes.io/docs/concepts/security/pod-security-standards/, "Restricted", which
includes every "Baseline" rule). One project decision is layered on top: the ``local``
storage provider may mount its BackupStorage volume as ``hostPath`` — a pod using it does not
meet "restricted", and docs/install.md says so; ``allow_host_path`` names that exception
explicitly at each call site.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

# Volume types the restricted profile admits.
_ALLOWED_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
_ALLOWED_SECCOMP = frozenset({"RuntimeDefault", "Localhost"})
_ALLOWED_ADDED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})


def _containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(field) or ():
            yield f"{field}[{container.get('name', '?')}]", container


def _effective(pod: Mapping[str, Any], container: Mapping[str, Any], key: str) -> Any:
    """A security setting as the kubelet applies it: the container's, else the pod's."""
    own = container.get(key)
    return own if own is not None else pod.get(key)


def restricted_violations(
    spec: Mapping[str, Any], where: str, allow_host_path: frozenset[str] = frozenset()
) -> list[str]:
    """Every way the pod spec breaks the restricted profile, each naming ``where`` and the field.

    ``allow_host_path`` lists volume names that may be ``hostPath`` (the local-provider storage
    volume); [] means the pod is admitted under ``pod-security.kubernetes.io/enforce:
    restricted``.
    """
    problems: list[str] = []
    pod_security = spec.get("securityContext") or {}
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(flag):
            problems.append(f"{where}: spec.{flag} is true")
    for volume in spec.get("volumes") or ():
        name = volume.get("name", "?")
        kinds = set(volume) - {"name"}
        if kinds == {"hostPath"} and name in allow_host_path:
            continue
        if not kinds <= _ALLOWED_VOLUME_TYPES:
            problems.append(f"{where}: spec.volumes[{name}] is {sorted(kinds)}")
    if pod_security.get("runAsUser") == 0:
        problems.append(f"{where}: spec.securityContext.runAsUser is 0")
    for path, container in _containers(spec):
        context = container.get("securityContext") or {}
        at = f"{where}: spec.{path}.securityContext"
        if context.get("privileged"):
            problems.append(f"{at}.privileged is true")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{at}.allowPrivilegeEscalation is not false")
        if context.get("readOnlyRootFilesystem") is not True:
            # not in the published profile; the project's rule (contracts §4) on top of it
            problems.append(f"{at}.readOnlyRootFilesystem is not true")
        if _effective(pod_security, context, "runAsNonRoot") is not True:
            problems.append(f"{at}.runAsNonRoot is not true (nor the pod's)")
        if context.get("runAsUser") == 0:
            problems.append(f"{at}.runAsUser is 0")
        seccomp = (_effective(pod_security, context, "seccompProfile") or {}).get("type")
        if seccomp not in _ALLOWED_SECCOMP:
            problems.append(f"{at}.seccompProfile.type is {seccomp!r} (nor the pod's)")
        capabilities = context.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or ()):
            problems.append(f"{at}.capabilities.drop lacks ALL")
        added = set(capabilities.get("add") or ()) - _ALLOWED_ADDED_CAPABILITIES
        if added:
            problems.append(f"{at}.capabilities.add has {sorted(added)}")
        for port in container.get("ports") or ():
            if port.get("hostPort"):
                problems.append(f"{where}: spec.{path}.ports hostPort {port['hostPort']}")
    return problems


def pod_specs(obj: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(where, pod spec) of every pod template an object carries (Pod, Job, CronJob,
    Deployment, StatefulSet, DaemonSet, ReplicaSet)."""
    kind = obj.get("kind", "")
    meta = obj.get("metadata") or {}
    where = f"{kind} {meta.get('namespace', '')}/{meta.get('name', '')}".replace(" /", " ")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        yield where, spec
    elif kind == "CronJob":
        yield (
            where,
            ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template", {}).get("spec")
            or {},
        )
    elif kind in ("Job", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
        yield where, (spec.get("template") or {}).get("spec") or {}


def host_path_volumes(spec: Mapping[str, Any]) -> frozenset[str]:
    """Names of the pod's hostPath volumes."""
    return frozenset(v["name"] for v in spec.get("volumes") or () if "hostPath" in v)
