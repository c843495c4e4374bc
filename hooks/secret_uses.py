"""Which Secret an executor Job reads, which field names it, and how a status says it is missing.

The hooks are not sent most Secrets a Job reads (Metacontroller would send their data), so a
missing one shows only on the Job's pod: the kubelet keeps it waiting in
``CreateContainerConfigError`` (``hooks.pod_waits``). The BackupSession and RestoreSession
controllers then name the Secret and the field of the object that names it, so the user knows
what to create (or which reference to fix).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hooks import pod_waits

REASON_SECRET_NOT_FOUND = "SecretNotFound"


@dataclass(frozen=True)
class SecretUse:
    """A Secret an executor Job reads, and which field of which object names it."""

    name: str
    named_by: str


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _where(kind: str, obj: Mapping[str, Any]) -> str:
    meta = _mapping(obj.get("metadata"))
    return f"{kind} {meta.get('namespace')}/{meta.get('name')}"


def repository_uses(repository: Mapping[str, Any]) -> list[SecretUse]:
    """The Repository's encryption Secret (``spec.encryptionSecret``), if it names one."""
    name = _text(_mapping(_mapping(repository.get("spec")).get("encryptionSecret")).get("name"))
    if not name:
        return []
    return [SecretUse(name, f"{_where('Repository', repository)}: spec.encryptionSecret")]


def storage_uses(storage: Mapping[str, Any]) -> list[SecretUse]:
    """The BackupStorage's credentials Secret (``spec.storage.<provider>.secretName``)."""
    backend = _mapping(_mapping(storage.get("spec")).get("storage"))
    provider = _text(backend.get("provider"))
    settings = _mapping(backend.get(provider))
    name = _text(settings.get("secretName")) or _text(settings.get("secret"))
    if not name:
        return []
    return [
        SecretUse(name, f"{_where('BackupStorage', storage)}: spec.storage.{provider}.secretName")
    ]


def appbinding_uses(appbinding: Mapping[str, Any]) -> list[SecretUse]:
    """The AppBinding's ZooKeeper auth (``spec.secret``) and TLS (``spec.tlsSecret``) Secrets."""
    spec = _mapping(appbinding.get("spec"))
    uses = []
    for field in ("secret", "tlsSecret"):
        name = _text(_mapping(spec.get(field)).get("name"))
        if name:
            uses.append(SecretUse(name, f"{_where('AppBinding', appbinding)}: spec.{field}"))
    return uses


def secret_not_found(namespace: str, use: SecretUse, job_kind: str) -> str:
    """How a status says that a Secret a ``job_kind`` (``restore Job``) needs is not in its
    namespace."""
    return (
        f"Secret {namespace}/{use.name} not found (named by {use.named_by}); the {job_kind} "
        f"runs in namespace {namespace} and can read Secrets only there"
    )


def _by_name(uses: Iterable[SecretUse]) -> dict[str, SecretUse]:
    """One use per Secret; a Secret several fields name lists them all (in order, once each)."""
    fields: dict[str, dict[str, None]] = {}
    for use in uses:
        fields.setdefault(use.name, {})[use.named_by] = None
    return {name: SecretUse(name, ", ".join(named)) for name, named in fields.items()}


def waiting_pod(
    namespace: str,
    job_kind: str,
    job_name: str,
    waits: list[pod_waits.ConfigWait],
    uses: Iterable[SecretUse],
) -> tuple[str, str]:
    """(reason, message) for a Job whose pod the kubelet cannot configure.

    ``job_kind`` says what the Job is (``backup Job``); ``uses`` are the Secrets it is known
    to read. A missing Secret gives reason ``SecretNotFound``; any other configuration error
    the kubelet's own words, with reason ``CreateContainerConfigError``.
    """
    job = f"{job_kind} {job_name}"
    named_by = _by_name(uses)
    missing = [w.missing_secret for w in waits if w.missing_secret]
    if missing:
        sentences = [
            secret_not_found(
                namespace, named_by.get(name) or SecretUse(name, f"the env of {job}"), job_kind
            )
            for name in dict.fromkeys(missing)
        ]
        return (
            REASON_SECRET_NOT_FOUND,
            f"{'; '.join(sentences)}; the pod of {job} waits for it "
            f"({pod_waits.CREATE_CONTAINER_CONFIG_ERROR})",
        )
    details = "; ".join(dict.fromkeys(w.message for w in waits))
    return (
        pod_waits.CREATE_CONTAINER_CONFIG_ERROR,
        f"the pod of {job} cannot start: {pod_waits.CREATE_CONTAINER_CONFIG_ERROR}: {details}",
    )
