"""The YAML a user would write, as Python builders with the values the e2e tests use."""

from __future__ import annotations

from typing import Any

from tests.infra.zookeeper import SUPER_PASSWORD, SUPER_USER

RESTIC_PASSWORD = "e2e-restic-password"


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def secret(ns: str, name: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "type": "Opaque",
        "stringData": data,
    }


def encryption_secret(ns: str) -> dict[str, Any]:
    return secret(ns, "encrypt-secret", {"RESTIC_PASSWORD": RESTIC_PASSWORD})


def zookeeper_auth_secret(ns: str, name: str = "sample-zookeeper-auth") -> dict[str, Any]:
    return secret(ns, name, {"username": SUPER_USER, "password": SUPER_PASSWORD})


def appbinding(ns: str, name: str, hosts: str, **extra: Any) -> dict[str, Any]:
    """How the executor reaches the test ZooKeeper (super user, so every ACL is readable)."""
    return {
        "apiVersion": "appcatalog.appscode.com/v1alpha1",
        "kind": "AppBinding",
        "metadata": {"name": name, "namespace": ns, **extra},
        "spec": {
            "type": "kubedb.com/zookeeper",
            "version": "3.8.0",
            "clientConfig": {"url": hosts},
            "secret": {"name": "sample-zookeeper-auth"},
        },
    }


def local_storage(
    ns: str, path: str, name: str = "local-storage", policy: str = "WipeOut"
) -> dict[str, Any]:
    return {
        "apiVersion": "storage.kubestash.com/v1alpha1",
        "kind": "BackupStorage",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "storage": {
                "provider": "local",
                "local": {"hostPath": {"path": path}, "mountPath": path},
            },
            "usagePolicy": {"allowedNamespaces": {"from": "All"}},
            "default": True,
            "deletionPolicy": policy,
        },
    }


def s3_storage(
    ns: str, endpoint: str, bucket: str, prefix: str, name: str = "s3-storage"
) -> dict[str, Any]:
    return {
        "apiVersion": "storage.kubestash.com/v1alpha1",
        "kind": "BackupStorage",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "storage": {
                "provider": "s3",
                "s3": {
                    "endpoint": endpoint,
                    "bucket": bucket,
                    "prefix": prefix,
                    "region": "us-east-1",
                    "secretName": "s3-secret",
                },
            },
            "usagePolicy": {"allowedNamespaces": {"from": "All"}},
            "default": False,
            "deletionPolicy": "WipeOut",
        },
    }


def retention(ns: str, last: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "storage.kubestash.com/v1alpha1",
        "kind": "RetentionPolicy",
        "metadata": {"name": "keep-last", "namespace": ns},
        "spec": {
            "default": True,
            "successfulSnapshots": {"last": last},
            "failedSnapshots": {"last": 1},
            "usagePolicy": {"allowedNamespaces": {"from": "Same"}},
        },
    }


def repository_info(name: str, backend: str, directory: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "backend": backend,
        "directory": directory,
        "encryptionSecret": {"name": "encrypt-secret"},
        **extra,
    }


def backup_configuration(
    ns: str,
    target: str,
    backends: list[dict[str, Any]],
    repositories: list[dict[str, Any]],
    name: str = "sample-zookeeper-backup",
    params: dict[str, str] | None = None,
    paused: bool = False,
    **session: Any,
) -> dict[str, Any]:
    """A BackupConfiguration of one session `frequent-backup` (every 5 minutes); `params` are
    the logical-backup task's (for example `root`, the ZooKeeper path to back up)."""
    task: dict[str, Any] = {"name": "logical-backup", **({"params": params} if params else {})}
    return {
        "apiVersion": "core.kubestash.com/v1alpha1",
        "kind": "BackupConfiguration",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "target": {
                "apiGroup": "kubedb.com",
                "kind": "ZooKeeper",
                "name": target,
                "namespace": ns,
            },
            "backends": backends,
            "sessions": [
                {
                    "name": "frequent-backup",
                    "scheduler": {"schedule": "*/5 * * * *", "jobTemplate": {"backoffLimit": 1}},
                    "repositories": repositories,
                    "addon": {"name": "zookeeper-addon", "tasks": [task]},
                    **session,
                }
            ],
            **({"paused": True} if paused else {}),
        },
    }


def backend(name: str, storage: str, ns: str) -> dict[str, Any]:
    return {
        "name": name,
        "storageRef": {"name": storage, "namespace": ns},
        "retentionPolicy": {"name": "keep-last", "namespace": ns},
    }


def restore_session(
    ns: str,
    target: str,
    repository: str,
    snapshot: str = "latest",
    source_ns: str | None = None,
    name: str = "sample-zookeeper-restore",
) -> dict[str, Any]:
    """A RestoreSession of `snapshot` (a Snapshot's name or `latest`) into `target`; with
    `source_ns` the Repository and Snapshot live in that other namespace. The restore Job runs
    in `ns`, so the encryption Secret it reads is the one in `ns`."""
    data_source: dict[str, Any] = {
        "repository": repository,
        "snapshot": snapshot,
        "encryptionSecret": {"name": "encrypt-secret", "namespace": ns},
    }
    if source_ns:
        data_source["namespace"] = source_ns
    return {
        "apiVersion": "core.kubestash.com/v1alpha1",
        "kind": "RestoreSession",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "target": {
                "apiGroup": "kubedb.com",
                "kind": "ZooKeeper",
                "name": target,
                "namespace": ns,
            },
            "dataSource": data_source,
            "addon": {"name": "zookeeper-addon", "tasks": [{"name": "logical-backup-restore"}]},
        },
    }


def s3_secret(ns: str, access_key: str, secret_key: str) -> dict[str, Any]:
    return secret(
        ns, "s3-secret", {"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key}
    )


def backup_blueprint(ns: str, name: str, storage: str) -> dict[str, Any]:
    """A blueprint whose schedule, repository name and backup root come from `${variables}`."""
    return {
        "apiVersion": "core.kubestash.com/v1alpha1",
        "kind": "BackupBlueprint",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "usagePolicy": {"allowedNamespaces": {"from": "Same"}},
            "backupConfigurationTemplate": {
                "deletionPolicy": "OnDelete",
                "backends": [backend("local-backend", storage, ns)],
                "sessions": [
                    {
                        "name": "frequent-backup",
                        "sessionHistoryLimit": 3,
                        "scheduler": {
                            "schedule": "${schedule}",
                            "jobTemplate": {"backoffLimit": 1},
                        },
                        "repositories": [
                            repository_info("${repoName}", "local-backend", "/${targetName}")
                        ],
                        "addon": {
                            "name": "zookeeper-addon",
                            "tasks": [{"name": "logical-backup", "params": {"root": "${root}"}}],
                        },
                    }
                ],
            },
        },
    }


def blueprint_annotations(ns: str, blueprint: str, **variables: str) -> dict[str, str]:
    """What a user puts on the database (here its AppBinding) to opt into auto-backup."""
    return {
        "blueprint.kubestash.com/name": blueprint,
        "blueprint.kubestash.com/namespace": ns,
        **{f"variables.kubestash.com/{k}": v for k, v in variables.items()},
    }
