"""KubeStash's plain files in a backend (`<prefix>/metadata.yaml`, `<path>/repository.yaml`),
and wiping a whole backend (BackupStorage `deletionPolicy: WipeOut`).

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
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from executor.backends import SpecError, backend_config
from executor.result import utc_timestamp

RCLONE = os.environ.get("ZKSTASH_RCLONE", "rclone")
OPERATOR_VERSION = "zkstash-0.1.0"
METADATA_FILE = "metadata.yaml"
REPOSITORY_FILE = "repository.yaml"
# rclone's exit code for "directory not found" (here: the bucket or container does not exist).
RCLONE_DIRECTORY_NOT_FOUND = 3


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
    import yaml  # imported here: backup and restore never read or write YAML

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
            return self._run(["cat", *flags, self._remote(key)], env, b"", "reading").stdout

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

    def wipe(self) -> bool:
        """Remove everything this storage holds; False when it held no file (already wiped).

        The root itself stays: for `local` it is the volume's mount point, for an object store
        with an empty prefix the bucket (which the storage uses but did not create). A root
        holding files must hold `metadata.yaml`, the mark `init-storage` leaves, or
        StorageFileError refuses: a wrong mountPath/bucket/prefix must not delete someone
        else's data. `metadata.yaml` goes last, so a wipe cut short can simply be run again.
        """
        if self.provider == "local":
            return self._wipe_local()
        with self._rclone() as (env, flags):
            root = self._remote("")
            top = self._list(["lsf", *flags, root], env)
            if top is None:
                return False  # the bucket/container itself is gone
            if METADATA_FILE not in top:
                # Only now list recursively (costly on a big tree): directory entries alone,
                # which some S3 servers keep after their objects are gone, are not data.
                if not self._list(["lsf", *flags, "-R", "--files-only", root], env):
                    return False
                raise _refusal(root)
            once = [*flags, "--retries", "1"]
            self._run(
                ["delete", *once, "--exclude", f"/{METADATA_FILE}", root], env, b"", "deleting"
            )
            if self._prefix():
                self._run(["purge", *once, root], env, b"", "deleting")
            else:
                self._run(["deletefile", *once, self._remote(METADATA_FILE)], env, b"", "deleting")
        return True

    def _list(self, args: list[str], env: Mapping[str, str]) -> list[str] | None:
        """rclone lsf's lines, or None when the bucket/container does not exist."""
        listing = self._run(args, env, b"", "listing", tolerate=True)
        if listing.returncode == RCLONE_DIRECTORY_NOT_FOUND:
            return None
        if listing.returncode != 0:
            stderr = listing.stderr.decode(errors="replace")
            raise StorageFileError(explain_rclone(stderr, args[-1], "listing"))
        return listing.stdout.decode(errors="replace").splitlines()

    def _wipe_local(self) -> bool:
        root = self._local_path("")
        if root.resolve() == Path("/"):
            raise StorageFileError(
                f"refusing to wipe {root}: local.mountPath resolves to the file system root"
            )
        try:
            if not root.exists() or not _holds_files(root):
                return False  # empty directories (lost+found of a fresh volume) are not data
            if not (root / METADATA_FILE).is_file():
                raise _refusal(str(root))
            for entry in sorted(root.iterdir(), key=lambda entry: entry.name == METADATA_FILE):
                if entry.is_dir() and not entry.is_symlink():  # a symlink is removed, not followed
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        except OSError as exc:
            raise StorageFileError(
                f"deleting {exc.filename or root} failed: {exc.strerror or exc}"
            ) from exc
        return True

    def _prefix(self) -> str:
        _, config = backend_config(self.storage, "storage")
        return str(config.get("prefix", "")).strip("/")

    def _local_path(self, key: str) -> Path:
        _, config = backend_config(self.storage, "storage")
        return Path(config["mountPath"]) / key.strip("/")

    def _remote(self, key: str) -> str:
        provider, config = backend_config(self.storage, "storage")
        prefix = self._prefix()
        remotes = {
            "s3": ("s3", "bucket"),
            "gcs": ("gcs", "bucket"),
            "azure": ("azureblob", "container"),
        }
        if provider in remotes:
            backend, field = remotes[provider]
            parts = (str(config[field]).strip("/"), prefix, key.strip("/"))
            return f":{backend}:" + "/".join(part for part in parts if part)
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
        self,
        args: list[str],
        env: Mapping[str, str],
        data: bytes,
        action: str = "writing",
        tolerate: bool = False,
    ) -> subprocess.CompletedProcess[bytes]:
        try:
            done = subprocess.run(
                [RCLONE, *args], env=dict(env), input=data, capture_output=True, timeout=300
            )
        except FileNotFoundError as exc:
            raise StorageFileError(
                f"{RCLONE} is not installed; it reads and writes files on {self.provider}"
            ) from exc
        if done.returncode != 0 and not tolerate:
            stderr = done.stderr.decode(errors="replace")
            raise StorageFileError(explain_rclone(stderr, args[-1], action))
        return done


def _holds_files(root: Path) -> bool:
    """True when any file or symlink lies anywhere below `root` (stops at the first)."""
    for directory, subdirectories, files in os.walk(root):
        if files or any((Path(directory) / name).is_symlink() for name in subdirectories):
            return True
    return False


def _refusal(root: str) -> StorageFileError:
    return StorageFileError(
        f"refusing to wipe {root}: it holds no {METADATA_FILE}, so it is not the root of a "
        "backup storage (check the storage spec, or remove the data by hand)"
    )


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


def explain_rclone(stderr: str, remote: str, action: str = "writing") -> str:
    """One sentence for an rclone failure while `action` (writing, deleting, …) `remote`."""
    text = stderr.lower()
    if "signaturedoesnotmatch" in text or "invalidaccesskeyid" in text or "accessdenied" in text:
        return f"the storage rejected the credentials while {action} {remote}"
    if "nosuchbucket" in text or "bucket does not exist" in text:
        return f"the bucket of {remote} does not exist"
    if "connection refused" in text or "no such host" in text:
        return f"cannot reach the storage for {remote}"
    errors = [line for line in stderr.splitlines() if "ERROR" in line or "Failed" in line]
    detail = (errors[-1] if errors else stderr.strip().splitlines()[-1:] or ["no output"])[-1]
    return f"{action} {remote} failed: {detail.strip()}"


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


def repository_entry(name: str, namespace: str, path: str) -> dict[str, str]:
    """One `repositories[]` entry of BackendMeta: `{name, namespace, path}` (namespace if known)."""
    entry = {"name": name, "namespace": namespace, "path": "/" + path.strip("/")}
    return {key: value for key, value in entry.items() if key != "namespace" or value}


def with_repository_entry(
    repositories: list[Any], entry: Mapping[str, str]
) -> list[dict[str, Any]]:
    """`repositories` with `entry` added, replacing any entry for the same Repository or path.

    Sorted by (namespace, name, path) so the file does not depend on the order Jobs ran in.
    """

    def same(other: Mapping[str, Any]) -> bool:
        identity = (other.get("namespace", ""), other.get("name"))
        return identity == (entry.get("namespace", ""), entry["name"]) or (
            "/" + str(other.get("path", "")).strip("/") == entry["path"]
        )

    kept = [dict(other) for other in repositories if isinstance(other, Mapping) and not same(other)]
    return sorted(
        [*kept, dict(entry)],
        key=lambda e: (str(e.get("namespace", "")), str(e.get("name", "")), str(e.get("path", ""))),
    )


def parse_backend_meta(content: bytes, where: str) -> dict[str, Any]:
    """The BackendMeta document in `content`; StorageFileError when it is not one."""
    import yaml

    try:
        document = yaml.safe_load(content)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise StorageFileError(f"{where} is not valid YAML{line}; fix or remove it") from exc
    if not isinstance(document, dict):
        raise StorageFileError(f"{where} is not a BackendMeta mapping; fix or remove it")
    if not isinstance(document.get("repositories") or [], list):
        raise StorageFileError(f"{where}: repositories must be a list; fix or remove it")
    return document


def register_repository(files: BackendFiles, entry: Mapping[str, str], now: dt.datetime) -> bool:
    """Add or refresh `entry` in `metadata.yaml` (read-modify-write; created when missing).

    Other entries and fields are kept. Returns True when the file was written (False when the
    entry was already there as is). Two Jobs writing at the same moment can lose one entry:
    object stores offer rclone no compare-and-swap.
    """
    content = files.read(METADATA_FILE)
    document = backend_meta(now) if content is None else parse_backend_meta(content, METADATA_FILE)
    current = list(document.get("repositories") or [])
    updated = with_repository_entry(current, entry)
    if content is not None and updated == current:
        return False
    document["repositories"] = updated
    files.write(METADATA_FILE, dump_yaml(document))
    return True
