"""Turning a Pod's container spec into a local process: environment, volumes, paths.

Pure functions: given the pod spec, the Secrets/ConfigMaps it reads and where its volumes live
on this machine, they produce argv, environment and working directory, or a ContainerConfigError
(what the kubelet reports as CreateContainerConfigError) or a VolumeSetupError (a volume that
cannot be mounted: the container waits in ContainerCreating).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Looks up (kind, namespace, name) -> object or None; kind is "Secret" or "ConfigMap".
Lookup = Callable[[str, str, str], dict[str, Any] | None]

_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


class ContainerConfigError(Exception):
    """The container cannot be configured (missing Secret or key): CreateContainerConfigError."""


class VolumeSetupError(Exception):
    """A volume cannot be set up (a missing Secret/ConfigMap or hostPath): the kubelet keeps
    the container waiting in ContainerCreating and reports the reason only as a FailedMount
    event, never in the pod's status."""


@dataclass(frozen=True)
class ProcessSpec:
    """What to run locally for one container."""

    argv: list[str]
    env: dict[str, str]
    cwd: str | None
    termination_message_path: Path


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' `$(VAR)` expansion: known variables are replaced, `$$` escapes, others stay."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _REFERENCE.sub(replace, text)


def _data_value(obj: dict[str, Any], key: str, is_secret: bool) -> str | None:
    if is_secret:
        raw = (obj.get("data") or {}).get(key)
        return base64.b64decode(raw).decode() if raw is not None else None
    value = (obj.get("data") or {}).get(key)
    return value


def _from_ref(ref: dict[str, Any], kind: str, namespace: str, lookup: Lookup) -> str | None:
    obj = lookup(kind, namespace, ref.get("name", ""))
    optional = bool(ref.get("optional"))
    if obj is None:
        if optional:
            return None
        raise ContainerConfigError(f'{kind.lower()} "{ref.get("name")}" not found')
    value = _data_value(obj, ref["key"], kind == "Secret")
    if value is None and not optional:
        raise ContainerConfigError(
            f"couldn't find key {ref['key']} in {kind} {namespace}/{ref.get('name')}"
        )
    return value


def container_env(
    container: dict[str, Any], namespace: str, lookup: Lookup, base: Mapping[str, str]
) -> dict[str, str]:
    """The container's environment: base, then envFrom, then env (in order, with expansion)."""
    env = dict(base)
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for kind, field in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
            ref = source.get(field)
            if ref is None:
                continue
            obj = lookup(kind, namespace, ref.get("name", ""))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise ContainerConfigError(f'{kind.lower()} "{ref.get("name")}" not found')
            for key in obj.get("data") or {}:
                value = _data_value(obj, key, kind == "Secret")
                if value is not None:
                    env[prefix + key] = value
    for item in container.get("env") or []:
        name = item["name"]
        if "valueFrom" in item:
            source = item["valueFrom"]
            if "secretKeyRef" in source:
                value = _from_ref(source["secretKeyRef"], "Secret", namespace, lookup)
            elif "configMapKeyRef" in source:
                value = _from_ref(source["configMapKeyRef"], "ConfigMap", namespace, lookup)
            elif "fieldRef" in source:
                value = None  # filled by the caller (metadata.name/namespace) if wanted
            else:
                raise ContainerConfigError(f"env {name}: unsupported valueFrom")
            if value is not None:
                env[name] = value
        else:
            env[name] = expand(str(item.get("value", "")), env)
    return env


def mount_map(
    pod_spec: dict[str, Any], container: dict[str, Any], volume_dirs: Mapping[str, Path]
) -> dict[str, str]:
    """Container mountPath -> local directory, for every volumeMount of the container."""
    mapping = {}
    for mount in container.get("volumeMounts") or []:
        local = volume_dirs.get(mount["name"])
        if local is None:
            raise ContainerConfigError(f'volume "{mount["name"]}" not found in the pod spec')
        if mount.get("subPath"):
            local = local / mount["subPath"]
            local.mkdir(parents=True, exist_ok=True)
        mapping[mount["mountPath"].rstrip("/") or "/"] = str(local)
    return mapping


def rewrite_paths(text: str, mounts: Mapping[str, str]) -> str:
    """Replace container mount paths in `text` by their local directories.

    Longest mount first, whole path components only (`/kubestash-tmp` must not match
    `/kubestash-tmpfoo`); identical mounts (hostPath at its own path) are left as they are.
    """
    for container_path in sorted(mounts, key=len, reverse=True):
        local = mounts[container_path]
        if local == container_path:
            continue
        pattern = re.compile(r"(?<![\w.-])" + re.escape(container_path) + r"(?=/|$|[^\w.-])")
        text = pattern.sub(lambda _m, local=local: local, text)
    return text


def process_spec(
    pod: dict[str, Any],
    lookup: Lookup,
    volume_dirs: Mapping[str, Path],
    termination_file: Path,
    base_env: Mapping[str, str],
) -> ProcessSpec:
    """How to run the pod's (first) container locally."""
    spec = pod["spec"]
    container = spec["containers"][0]
    namespace = pod["metadata"]["namespace"]
    mounts = mount_map(spec, container, volume_dirs)
    message_path = container.get("terminationMessagePath") or "/dev/termination-log"
    mounts = {**mounts, message_path: str(termination_file)}
    env = container_env(container, namespace, lookup, base_env)
    env = {k: rewrite_paths(v, mounts) if k not in base_env else v for k, v in env.items()}
    argv = [
        expand(a, env) for a in (container.get("command") or []) + (container.get("args") or [])
    ]
    if not argv:
        raise ContainerConfigError("the container has no command (images are not run here)")
    argv = [rewrite_paths(a, mounts) for a in argv]
    cwd = container.get("workingDir")
    return ProcessSpec(
        argv=argv,
        env=env,
        cwd=rewrite_paths(cwd, mounts) if cwd else None,
        termination_message_path=termination_file,
    )


def prepare_volumes(pod: dict[str, Any], pod_dir: Path, lookup: Lookup) -> dict[str, Path]:
    """Create a local directory per pod volume: emptyDir (fresh), hostPath (as is), secret."""
    dirs: dict[str, Path] = {}
    namespace = pod["metadata"]["namespace"]
    for volume in pod["spec"].get("volumes") or []:
        name = volume["name"]
        if "emptyDir" in volume:
            path = pod_dir / "volumes" / name
            path.mkdir(parents=True, exist_ok=True)
        elif "hostPath" in volume:
            path = Path(volume["hostPath"]["path"])
            if volume["hostPath"].get("type") in ("DirectoryOrCreate", None, ""):
                path.mkdir(parents=True, exist_ok=True)
            elif not path.exists():
                raise VolumeSetupError(f'MountVolume.SetUp failed for volume "{name}": {path}')
        elif "secret" in volume or "configMap" in volume:
            kind = "Secret" if "secret" in volume else "ConfigMap"
            source = volume["secret" if kind == "Secret" else "configMap"]
            obj_name = source.get("secretName") or source.get("name", "")
            obj = lookup(kind, namespace, obj_name)
            if obj is None and not source.get("optional"):
                raise VolumeSetupError(
                    f'MountVolume.SetUp failed for volume "{name}": '
                    f'{kind.lower()} "{obj_name}" not found'
                )
            obj = obj or {}
            path = pod_dir / "volumes" / name
            path.mkdir(parents=True, exist_ok=True)
            for key in obj.get("data") or {}:
                value = _data_value(obj, key, kind == "Secret") or ""
                (path / key).write_text(value)
        else:
            raise ContainerConfigError(
                f'volume "{name}": only emptyDir, hostPath, secret and '
                "configMap volumes run locally"
            )
        dirs[name] = path
    return dirs
