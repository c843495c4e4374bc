"""Argo CD health checks, run as Argo CD runs them: the Lua from the built argocd-cm, in Lua 5.1
(Argo CD embeds gopher-lua, a Lua 5.1), with `obj` set to a live object.

Each row of the tables is one object state and the health Argo CD must show for it.
"""

from pathlib import Path
from typing import Any

import lupa.lua51
import pytest

from schemas.registry import kinds
from tests.ecosystem.images import REPO
from tests.ecosystem.kustomize import build_with_component

HEALTH_KEY = "resource.customizations.health."
ARGOCD_CM = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "argocd-cm", "namespace": "argocd"},
    "data": {"url": "https://argocd.example.com"},
}
STORAGE = "storage.kubestash.com/v1alpha1"
CORE = "core.kubestash.com/v1alpha1"
BAD_CRON = 'spec.sessions[0].scheduler.schedule: "*/61 * * * *" is not a valid cron expression'


@pytest.fixture(scope="module")
def health_scripts() -> dict[str, str]:
    """``{"<group>_<Kind>": lua}`` from argocd-cm after the component is merged into it."""
    (configmap,) = build_with_component([ARGOCD_CM], REPO / "manifests" / "argocd")
    return {
        k[len(HEALTH_KEY) :]: v for k, v in configmap["data"].items() if k.startswith(HEALTH_KEY)
    }


def argocd_health(scripts: dict[str, str], obj: dict[str, Any]) -> dict[str, str]:
    """What Argo CD shows for OBJ: the script for its group and kind, run with `obj` set."""
    group = obj["apiVersion"].split("/")[0]
    script = scripts[f"{group}_{obj['kind']}"]
    lua = lupa.lua51.LuaRuntime()
    lua.globals().obj = lua.table_from(obj, recursive=True)
    return dict(lua.execute(script))


def condition(type_: str, status: str, message: str = "", reason: str = "") -> dict[str, str]:
    return {"type": type_, "status": status, "reason": reason, "message": message}


def obj(api: str, kind: str, status: dict | None = None, **spec: Any) -> dict[str, Any]:
    o: dict[str, Any] = {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": "sample", "namespace": "demo", "generation": 1},
        "spec": spec,
    }
    if status is not None:
        o["status"] = status
    return o


CASES = {
    "storage with no status yet": (
        obj(STORAGE, "BackupStorage"),
        ("Progressing", "Waiting for the controller to report a phase"),
    ),
    "storage ready": (
        obj(
            STORAGE,
            "BackupStorage",
            {
                "phase": "Ready",
                "conditions": [condition("BackendInitialized", "True", "Backend initialized")],
            },
        ),
        ("Healthy", "Backend initialized"),
    ),
    "storage initialising": (
        obj(STORAGE, "BackupStorage", {"phase": "NotReady"}),
        ("Progressing", "Initializing the backend"),
    ),
    "storage secret missing": (
        obj(
            STORAGE,
            "BackupStorage",
            {
                "phase": "NotReady",
                "conditions": [
                    condition("BackendSecretFound", "False", 'Secret "s3-secret" not found')
                ],
            },
        ),
        ("Degraded", 'Secret "s3-secret" not found'),
    ),
    "storage init failed": (
        obj(
            STORAGE,
            "BackupStorage",
            {
                "phase": "NotReady",
                "conditions": [
                    condition("BackendInitialized", "False", "bucket kubestash-zk: access denied")
                ],
            },
        ),
        ("Degraded", "bucket kubestash-zk: access denied"),
    ),
    "repository ready": (
        obj(
            STORAGE,
            "Repository",
            {
                "phase": "Ready",
                "conditions": [
                    condition(
                        "RepositoryInitialized", "True", reason="RepositoryInitializationSucceeded"
                    )
                ],
            },
        ),
        ("Healthy", "RepositoryInitializationSucceeded"),
    ),
    "repository init failed": (
        obj(
            STORAGE,
            "Repository",
            {
                "phase": "NotReady",
                "conditions": [
                    condition("RepositoryInitialized", "False", "restic init: wrong password")
                ],
            },
        ),
        ("Degraded", "restic init: wrong password"),
    ),
    "snapshot running": (
        obj(STORAGE, "Snapshot", {"phase": "Running"}),
        ("Progressing", "Snapshot is Running"),
    ),
    "snapshot succeeded": (
        obj(STORAGE, "Snapshot", {"phase": "Succeeded", "snapshotTime": "2026-11-25T10:00:04Z"}),
        ("Healthy", "Snapshot taken at 2026-11-25T10:00:04Z"),
    ),
    "snapshot failed in its component": (
        obj(
            STORAGE,
            "Snapshot",
            {
                "phase": "Failed",
                "components": {"dump": {"phase": "Failed", "error": "stream has no trailer"}},
            },
        ),
        ("Degraded", "dump: stream has no trailer"),
    ),
    "snapshot executor died": (
        obj(
            STORAGE,
            "Snapshot",
            {
                "phase": "Failed",
                "conditions": [
                    condition(
                        "BackupIncomplete", "True", "backup executor terminated before completion"
                    )
                ],
            },
        ),
        ("Degraded", "backup executor terminated before completion"),
    ),
    "configuration ready": (
        obj(CORE, "BackupConfiguration", {"phase": "Ready"}),
        ("Healthy", "Ready"),
    ),
    "configuration invalid": (
        obj(
            CORE,
            "BackupConfiguration",
            {
                "phase": "Invalid",
                "conditions": [
                    condition(
                        "ValidationPassed",
                        "False",
                        BAD_CRON,
                    )
                ],
            },
        ),
        (
            "Degraded",
            BAD_CRON,
        ),
    ),
    "configuration paused": (
        obj(CORE, "BackupConfiguration", {"phase": "Ready"}, paused=True),
        ("Suspended", "Backups are paused (spec.paused)"),
    ),
    "configuration waiting for its target": (
        obj(CORE, "BackupConfiguration", {"phase": "NotReady", "targetFound": False}),
        ("Progressing", "Waiting for the backup target"),
    ),
    "configuration waiting for a storage": (
        obj(
            CORE,
            "BackupConfiguration",
            {
                "phase": "NotReady",
                "targetFound": True,
                "backends": [{"name": "s3-backend", "ready": False}],
            },
        ),
        ("Progressing", "Waiting for backend s3-backend"),
    ),
    "configuration scheduler failed": (
        obj(
            CORE,
            "BackupConfiguration",
            {
                "phase": "NotReady",
                "targetFound": True,
                "sessions": [
                    {
                        "name": "frequent-backup",
                        "conditions": [
                            condition("SchedulerEnsured", "False", "CronJob could not be created")
                        ],
                    }
                ],
            },
        ),
        ("Degraded", "CronJob could not be created"),
    ),
    "configuration of an older generation": (
        {
            **obj(CORE, "BackupConfiguration", {"phase": "Ready", "observedGeneration": 1}),
            "metadata": {"name": "sample", "namespace": "demo", "generation": 2},
        },
        ("Progressing", "Waiting for the controller to observe generation 2"),
    ),
    "backup session pending": (
        obj(CORE, "BackupSession", {"phase": "Pending"}),
        ("Progressing", "Backup is Pending"),
    ),
    "backup session running": (
        obj(CORE, "BackupSession", {"phase": "Running"}),
        ("Progressing", "Backup is Running"),
    ),
    "backup session succeeded": (
        obj(CORE, "BackupSession", {"phase": "Succeeded", "duration": "4.2s"}),
        ("Healthy", "Backup succeeded in 4.2s"),
    ),
    "backup session failed in its Job": (
        obj(
            CORE,
            "BackupSession",
            {
                "phase": "Failed",
                "conditions": [
                    condition("BackupExecutorEnsured", "True"),
                    condition("MetricsPushed", "False", "zookeeper zk-0:2181: connection refused"),
                ],
            },
        ),
        ("Degraded", "zookeeper zk-0:2181: connection refused"),
    ),
    "backup session failed in a snapshot": (
        obj(
            CORE,
            "BackupSession",
            {
                "phase": "Failed",
                "snapshots": [
                    {"name": "s3-repo-sample-1", "phase": "Succeeded"},
                    {"name": "gcs-repo-sample-1", "phase": "Failed"},
                ],
            },
        ),
        ("Degraded", "Snapshot gcs-repo-sample-1 failed"),
    ),
    "backup session skipped": (
        obj(
            CORE,
            "BackupSession",
            {
                "phase": "Skipped",
                "conditions": [
                    condition("BackupSkipped", "True", "another backup session is running")
                ],
            },
        ),
        ("Healthy", "Skipped: another backup session is running"),
    ),
    "restore session running": (
        obj(CORE, "RestoreSession", {"phase": "Running"}),
        ("Progressing", "Restore is Running"),
    ),
    "restore session succeeded": (
        obj(CORE, "RestoreSession", {"phase": "Succeeded", "duration": "12s"}),
        ("Healthy", "Restore succeeded in 12s"),
    ),
    "restore session invalid": (
        obj(
            CORE,
            "RestoreSession",
            {
                "phase": "Invalid",
                "conditions": [
                    condition(
                        "ValidationPassed",
                        "False",
                        'spec.dataSource.snapshot: "latest" requires repository',
                    )
                ],
            },
        ),
        ("Degraded", 'spec.dataSource.snapshot: "latest" requires repository'),
    ),
    "restore session failed": (
        obj(
            CORE,
            "RestoreSession",
            {
                "phase": "Failed",
                "components": {
                    "dump": {"phase": "Failed", "error": "node /app exists (mode fail)"}
                },
            },
        ),
        ("Degraded", "dump: node /app exists (mode fail)"),
    ),
    "restore session with unknown outcome": (
        obj(CORE, "RestoreSession", {"phase": "Unknown"}),
        ("Degraded", "Restore finished, but the result of some components is unknown"),
    ),
    "restore session with no status yet": (
        obj(CORE, "RestoreSession"),
        ("Progressing", "Waiting for the controller to report a phase"),
    ),
    "retention policy (no status)": (
        obj(STORAGE, "RetentionPolicy"),
        ("Healthy", ""),
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_health(health_scripts: dict[str, str], case: str) -> None:
    live, (status, message) = CASES[case]
    assert argocd_health(health_scripts, live) == {"status": status, "message": message}


def test_every_served_kind_has_a_health_check(health_scripts: dict[str, str]) -> None:
    served = {f"{k.group}_{k.kind}" for k in kinds().values()}
    assert set(health_scripts) == served


@pytest.mark.parametrize(
    "kind_id",
    [
        "storage.kubestash.com_RetentionPolicy",
        "core.kubestash.com_BackupBlueprint",
        "addons.kubestash.com_Addon",
        "addons.kubestash.com_Function",
        "appcatalog.appscode.com_AppBinding",
    ],
)
def test_kinds_without_a_phase_are_healthy(health_scripts: dict[str, str], kind_id: str) -> None:
    group, kind = kind_id.split("_")
    live = {"apiVersion": f"{group}/v1alpha1", "kind": kind, "metadata": {"name": "x"}, "spec": {}}
    assert argocd_health(health_scripts, live)["status"] == "Healthy"


def test_component_keeps_the_existing_argocd_settings() -> None:
    (configmap,) = build_with_component([ARGOCD_CM], Path(REPO / "manifests" / "argocd"))
    assert configmap["data"]["url"] == "https://argocd.example.com"
