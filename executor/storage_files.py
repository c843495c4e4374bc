"""KubeStash's plain files in a backend: `<prefix>/metadata.yaml` and `<path>/repository.yaml`.

`local` backends are written with ordinary file operations. Object stores (s3, gcs, azure) go
through rclone with on-the-fly remotes (`:s3:bucket/key`): one well-kept tool that speaks all
three, configured only by environment variables (RCLONE_*), so no credential is ever an
argument, and no config file is needed. rclone gets a clean environment, not ours: restic's
variables (and e.g. an inherited AWS_CA_BUNDLE, which rclone 1.60 rejects on plain http) must
not leak into it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from executor.backends import SpecError, backend_config
from executor.result import utc_timestamp

RCLONE = os.environ.get("ZKSTASH_RCLONE", "rclone")
OPERATOR_VERSION = "zkstash-0.1.0"
METADATA_FILE = "metadata.yaml"
REPOSITORY_FILE = "repository.yaml"


class StorageFileError(Exception):
    """A backend file could not be read or written; str() is one sentence without secrets."""


def backend_meta(now: dt.datetime, repositories: list[dict[str, Any]] | None = None) -> dict:
    """The BackendMeta document KubeStash keeps at `<prefix>/metadata.yaml`."""
    return {
        "apiVersion": "config.kubestash.com/v1alpha1",
        "kind": "BackendMeta",
        "creationTimestamp": utc_timestamp(now),
        "operatorVersion": OPERATOR_VERSION,
        "repositories": repositories or [],
    }


def repository_document(name: str, path: str, now: dt.datetime) -> dict:
    """The Repository record written at `<path>/repository.yaml` when a repository is set up."""
    return {
        "apiVersion": "storage.kubestash.com/v1alpha1",
        "kind": "Repository",
        "metadata": {"name": name, "creationTimestamp": utc_timestamp(now)},
        "spec": {"path": "/" + path.strip("/")},
    }


def dump_yaml(document: Mapping[str, Any]) -> bytes:
    """Block-style YAML, keys in the order given."""
    return yaml.safe_dump(dict(document), sort_keys=False).encode()


@dataclass(frozen=True)
class BackendFiles:
    """Reads and writes small files relative to a BackupStorage's root (bucket + prefix)."""

    storage: Mapping[str, Any]
    env: Mapping[str, str]  # the storage's variables, prefix already stripped

    @property
    def provider(self) -> str:
        """The storage provider (`local`, `s3`, `gcs`, `azure`, `rest`)."""
        return backend_config(self.storage, "storage")[0]

    @property
    def supported(self) -> bool:
        """False for `rest`, a server that holds restic repositories only."""
        return self.provider != "rest"

    def read(self, key: str) -> bytes | None:
        """The file's content, or None when it does not exist."""
        if self.provider == "local":
            path = self._local_path(key)
            return path.read_bytes() if path.exists() else None
        with self._rclone() as (env, flags):
            listing = self._run(["lsf", *flags, self._remote(key)], env, b"", tolerate=True)
            if listing.returncode != 0 or not listing.stdout.strip():
                return None
            return self._run(["cat", *flags, self._remote(key)], env, b"").stdout

    def write(self, key: str, content: bytes) -> None:
        """Create or replace the file."""
        if self.provider == "local":
            path = self._local_path(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.tmp")
            temporary.write_bytes(content)
            temporary.replace(path)  # atomic: a reader sees the old or the new file
            return
        with self._rclone() as (env, flags):
            self._run(["rcat", *flags, self._remote(key)], env, content)

    def _local_path(self, key: str) -> Path:
        _, config = backend_config(self.storage, "storage")
        return Path(config["mountPath"]) / key.strip("/")

    def _remote(self, key: str) -> str:
        provider, config = backend_config(self.storage, "storage")
        prefix = str(config.get("prefix", "")).strip("/")
        full = "/".join(part for part in (prefix, key.strip("/")) if part)
        if provider == "s3":
            return f":s3:{config['bucket'].strip('/')}/{full}"
        if provider == "gcs":
            return f":gcs:{config['bucket'].strip('/')}/{full}"
        if provider == "azure":
            return f":azureblob:{config['container'].strip('/')}/{full}"
        raise SpecError(f"storage.provider {provider!r} has no file access")

    @contextlib.contextmanager
    def _rclone(self) -> Iterator[tuple[dict[str, str], list[str]]]:
        """rclone's environment and flags for this storage (CA material in a private file)."""
        provider, config = backend_config(self.storage, "storage")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "TMPDIR": os.environ.get("TMPDIR", tempfile.gettempdir()),
            "HOME": os.environ.get("TMPDIR", tempfile.gettempdir()),
            "RCLONE_CONFIG": "/dev/null",
        }
        env.update(rclone_variables(provider, config, self.env))
        flags: list[str] = []
        if config.get("insecureTLS"):
            flags.append("--no-check-certificate")
        ca = self.env.get("CA_CERT_DATA", "")
        if not ca:
            yield env, flags
            return
        with tempfile.NamedTemporaryFile("w", suffix=".pem") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(ca)
            handle.flush()
            yield env, [*flags, "--ca-cert", handle.name]

    def _run(
        self, args: list[str], env: Mapping[str, str], data: bytes, tolerate: bool = False
    ) -> subprocess.CompletedProcess[bytes]:
        try:
            done = subprocess.run(
                [RCLONE, *args], env=dict(env), input=data, capture_output=True, timeout=300
            )
        except FileNotFoundError as exc:
            raise StorageFileError(
                f"{RCLONE} is not installed; it writes files to {self.provider}"
            ) from exc
        if done.returncode != 0 and not tolerate:
            raise StorageFileError(explain_rclone(done.stderr.decode(errors="replace"), args[-1]))
        return done


def rclone_variables(
    provider: str, config: Mapping[str, Any], env: Mapping[str, str]
) -> dict[str, str]:
    """RCLONE_* variables that configure an on-the-fly remote for this provider."""
    if provider == "s3":
        variables = {
            "RCLONE_S3_PROVIDER": "Other",
            "RCLONE_S3_ENDPOINT": str(config.get("endpoint", "")).rstrip("/"),
            "RCLONE_S3_FORCE_PATH_STYLE": "true",
        }
        if config.get("region"):
            variables["RCLONE_S3_REGION"] = str(config["region"])
        if env.get("AWS_ACCESS_KEY_ID"):
            variables["RCLONE_S3_ACCESS_KEY_ID"] = env["AWS_ACCESS_KEY_ID"]
            variables["RCLONE_S3_SECRET_ACCESS_KEY"] = env.get("AWS_SECRET_ACCESS_KEY", "")
            if env.get("AWS_SESSION_TOKEN"):
                variables["RCLONE_S3_SESSION_TOKEN"] = env["AWS_SESSION_TOKEN"]
        else:
            variables["RCLONE_S3_ENV_AUTH"] = "true"  # credential-less mode (IRSA)
        return variables
    if provider == "gcs":
        variables = {"RCLONE_GCS_BUCKET_POLICY_ONLY": "true"}
        if env.get("GOOGLE_SERVICE_ACCOUNT_JSON_KEY"):
            variables["RCLONE_GCS_SERVICE_ACCOUNT_CREDENTIALS"] = env[
                "GOOGLE_SERVICE_ACCOUNT_JSON_KEY"
            ]
        else:
            variables["RCLONE_GCS_ENV_AUTH"] = "true"
        if env.get("GOOGLE_PROJECT_ID"):
            variables["RCLONE_GCS_PROJECT_NUMBER"] = env["GOOGLE_PROJECT_ID"]
        return variables
    if provider == "azure":
        variables = {"RCLONE_AZUREBLOB_ACCOUNT": str(config.get("storageAccount", ""))}
        if env.get("AZURE_ACCOUNT_KEY"):
            variables["RCLONE_AZUREBLOB_KEY"] = env["AZURE_ACCOUNT_KEY"]
        else:
            variables["RCLONE_AZUREBLOB_ENV_AUTH"] = "true"
        return variables
    return {}


def explain_rclone(stderr: str, remote: str) -> str:
    """One sentence for an rclone failure on `remote`."""
    text = stderr.lower()
    if "signaturedoesnotmatch" in text or "invalidaccesskeyid" in text or "accessdenied" in text:
        return f"the storage rejected the credentials while writing {remote}"
    if "nosuchbucket" in text or "bucket does not exist" in text:
        return f"the bucket of {remote} does not exist"
    if "connection refused" in text or "no such host" in text:
        return f"cannot reach the storage for {remote}"
    errors = [line for line in stderr.splitlines() if "ERROR" in line or "Failed" in line]
    detail = (errors[-1] if errors else stderr.strip().splitlines()[-1:] or ["no output"])[-1]
    return f"writing {remote} failed: {detail.strip()}"


def ensure_backend_meta(files: BackendFiles, now: dt.datetime) -> bool:
    """Write `metadata.yaml` unless present (an existing one keeps its repository list).

    Returns True when it was written now.
    """
    if files.read(METADATA_FILE) is not None:
        return False
    files.write(METADATA_FILE, dump_yaml(backend_meta(now)))
    return True


def write_repository_file(files: BackendFiles, name: str, path: str, now: dt.datetime) -> str:
    """Write `<path>/repository.yaml`; returns its key relative to the backend root."""
    key = "/".join(part for part in (path.strip("/"), REPOSITORY_FILE) if part)
    files.write(key, dump_yaml(repository_document(name, path, now)))
    return key
