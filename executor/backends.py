"""Where a repository lives: a `--repository` SPEC → restic repository string + environment.

A SPEC is either a plain restic repository string (standalone use) or a JSON object
`{"name", "storage": <BackupStorage spec.storage>, "path", "envPrefix"}` from which KubeStash's
layout is derived: `<backend>/<path>/repository/v1/<session>/dump`.

Secrets reach this module only through environment variables (`<envPrefix><VAR>`); they go into
the restic process's environment, never into the repository string or an argument.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Component path inside a KubeStash repository directory (Snapshot.GetComponentPath).
COMPONENT = "dump"
SNAPSHOT_VERSION = "v1"

# Variables a repository's restic process may need; with an envPrefix, these are taken only
# from `<envPrefix><VAR>` so one repository never sees another repository's secrets.
REPOSITORY_VARIABLES = (
    "RESTIC_PASSWORD",
    "RESTIC_PASSWORD_FILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "CA_CERT_DATA",
    "GOOGLE_PROJECT_ID",
    "GOOGLE_SERVICE_ACCOUNT_JSON_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "AZURE_ACCOUNT_NAME",
    "AZURE_ACCOUNT_KEY",
)

# Values of these variables are secrets: they are scrubbed from every message we print.
SECRET_VARIABLES = (
    "RESTIC_PASSWORD",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "CA_CERT_DATA",
    "GOOGLE_SERVICE_ACCOUNT_JSON_KEY",
    "AZURE_ACCOUNT_KEY",
    "ZK_PASSWORD",
    "ZK_TLS_KEY_DATA",
)

# Variables of the ZooKeeper connection: restic never needs them.
_ZOOKEEPER_VARIABLES = ("ZK_USERNAME", "ZK_PASSWORD", "ZK_TLS_CA_DATA", "ZK_TLS_CERT_DATA")

PROVIDERS = ("local", "s3", "gcs", "azure", "rest")


class SpecError(ValueError):
    """A --repository / --storage value the executor cannot use; the message names the field."""


@dataclass(frozen=True)
class Repository:
    """One restic repository the executor talks to."""

    name: str  # for results and logs; never holds a secret
    url: str  # the restic repository string (passed as RESTIC_REPOSITORY, not as an argument)
    env: Mapping[str, str] = field(repr=False)  # this repository's variables, prefix stripped
    storage: Mapping[str, Any] | None = None  # BackupStorage spec.storage (JSON SPEC only)
    path: str = ""  # Repository.spec.path (JSON SPEC only)
    insecure_tls: bool = False


def repository_directory(path: str, session: str) -> str:
    """KubeStash's component directory: `<path>/repository/v1/<session>/dump`, no outer slashes."""
    parts = [path.strip("/"), "repository", SNAPSHOT_VERSION, session, COMPONENT]
    return "/".join(part for part in parts if part)


def prefixed_environment(environ: Mapping[str, str], prefix: str) -> dict[str, str]:
    """The repository variables visible to one repository: `<prefix><VAR>` as `<VAR>`."""
    return {var: environ[prefix + var] for var in REPOSITORY_VARIABLES if prefix + var in environ}


def secret_values(environ: Mapping[str, str]) -> list[str]:
    """Every secret value in the environment (any prefix), longest first, for scrubbing."""
    values = {
        value
        for key, value in environ.items()
        if value and len(value) >= 4 and any(key.endswith(secret) for secret in SECRET_VARIABLES)
    }
    return sorted(values, key=len, reverse=True)


_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)


def redact_url(url: str) -> str:
    """`rest:http://user:pass@host/x` → `rest:http://***@host/x` (a URL may carry credentials)."""
    return _USERINFO.sub(r"\g<scheme>***@", url)


def parse_repository(
    spec: str, session: str | None, environ: Mapping[str, str] = os.environ
) -> Repository:
    """Turn one --repository SPEC into a Repository; raises SpecError naming the bad field."""
    text = spec.strip()
    if not text:
        raise SpecError("--repository is empty")
    if not text.startswith("{"):
        return Repository(name=redact_url(text), url=text, env=prefixed_environment(environ, ""))
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"--repository is not valid JSON: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(obj, dict):
        raise SpecError("--repository JSON must be an object")
    name = _string(obj, "name", "--repository", required=True)
    prefix = _string(obj, "envPrefix", "--repository")
    path = _string(obj, "path", "--repository")
    storage = obj.get("storage")
    if not isinstance(storage, dict):
        raise SpecError(f"--repository {name}: storage must be an object (BackupStorage spec)")
    if not session:
        raise SpecError(f"--repository {name}: --session is required with a JSON repository SPEC")
    backend = backend_url(storage, f"--repository {name}: storage")
    url = join_url(backend, repository_directory(path, session))
    provider = storage["provider"]
    env = prefixed_environment(environ, prefix)
    env.update(provider_environment(storage))
    insecure = bool(storage.get(provider, {}).get("insecureTLS", False))
    return Repository(
        name=name, url=url, env=env, storage=storage, path=path, insecure_tls=insecure
    )


def _string(obj: Mapping[str, Any], key: str, where: str, required: bool = False) -> str:
    value = obj.get(key, "")
    if not isinstance(value, str):
        raise SpecError(f"{where}: {key} must be a string")
    if required and not value:
        raise SpecError(f"{where}: {key} is required")
    return value


def backend_config(storage: Mapping[str, Any], where: str) -> tuple[str, Mapping[str, Any]]:
    """(provider, provider config) of a BackupStorage spec.storage; raises SpecError."""
    provider = storage.get("provider")
    if provider not in PROVIDERS:
        raise SpecError(f"{where}.provider must be one of {', '.join(PROVIDERS)}, got {provider!r}")
    config = storage.get(provider)
    if not isinstance(config, dict):
        raise SpecError(f"{where}.{provider} must be an object")
    return provider, config


def _required(config: Mapping[str, Any], key: str, where: str) -> str:
    value = config.get(key)
    if not isinstance(value, str) or not value.strip("/"):
        raise SpecError(f"{where}.{key} is required")
    return value.rstrip("/")  # KubeStash's webhook strips trailing slashes too


def backend_url(storage: Mapping[str, Any], where: str = "storage") -> str:
    """The restic repository string of a BackupStorage's root (bucket + prefix, or mount path)."""
    provider, config = backend_config(storage, where)
    here = f"{where}.{provider}"
    prefix = str(config.get("prefix", "")).strip("/")
    if provider == "local":
        return _required(config, "mountPath", here) or "/"
    if provider == "s3":
        endpoint = _required(config, "endpoint", here)
        bucket = _required(config, "bucket", here).strip("/")
        return join_url(f"s3:{endpoint}/{bucket}", prefix)
    if provider == "gcs":
        bucket = _required(config, "bucket", here).strip("/")
        return f"gs:{bucket}:/{prefix}".rstrip("/") if prefix else f"gs:{bucket}:/"
    if provider == "azure":
        container = _required(config, "container", here).strip("/")
        _required(config, "storageAccount", here)
        return f"azure:{container}:/{prefix}".rstrip("/") if prefix else f"azure:{container}:/"
    url = _required(config, "url", here)
    return join_url(f"rest:{url}", prefix)


def join_url(base: str, directory: str) -> str:
    """`base` + `/directory`, with exactly one slash between and none doubled."""
    directory = directory.strip("/")
    if not directory:
        return base
    return f"{base.rstrip('/')}/{directory}"


def provider_environment(storage: Mapping[str, Any]) -> dict[str, str]:
    """Non-secret variables restic needs that come from the storage spec itself."""
    provider = storage["provider"]
    config = storage.get(provider, {})
    if provider == "s3" and config.get("region"):
        return {"AWS_DEFAULT_REGION": str(config["region"])}
    if provider == "azure":
        return {"AZURE_ACCOUNT_NAME": str(config["storageAccount"])}
    return {}


def parse_storage(text: str) -> Mapping[str, Any]:
    """Parse --storage (BackupStorage spec.storage JSON); raises SpecError naming the field."""
    try:
        storage = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"--storage is not valid JSON: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(storage, dict):
        raise SpecError("--storage must be a JSON object (BackupStorage spec.storage)")
    backend_url(storage, "--storage")
    return storage


def base_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The inherited environment minus every repository and ZooKeeper variable (any prefix)."""
    private = (*REPOSITORY_VARIABLES, *_ZOOKEEPER_VARIABLES, "RESTIC_REPOSITORY")
    return {
        key: value
        for key, value in environ.items()
        if not any(key.endswith(var) for var in private) and key != "ZK_TLS_KEY_DATA"
    }
