"""A RestoreSession waits while a backup of the same target runs, so no backup captures the tree
mid-restore; the backups never wait for it (they are Skipped while it is Pending or Running),
so neither can hold the other forever. The Snapshot chosen as ``latest`` when it began to wait
is the one it restores."""

from __future__ import annotations

from typing import Any

from hooks.controllers import backupsession
from hooks.protocol import parse_request
from tests.hooks import world as backup_world
from tests.hooks.test_restoresession import (
    NEW,
    NEW_ID,
    NEWER,
    NEWER_ID,
    condition,
    container,
    restore_session,
    snapshot,
    sync,
    the_job,
    world,
)

NAMESPACE = "demo"


def backup_session(name: str, invoker: str, phase: str) -> dict[str, Any]:
    """A BackupSession of BackupConfiguration ``invoker`` in ``phase``."""
    return {
        "apiVersion": "core.kubestash.com/v1alpha1",
        "kind": "BackupSession",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "creationTimestamp": "2026-11-25T10:30:00Z",
        },
        "spec": {
            "invoker": {
                "apiGroup": "core.kubestash.com",
                "kind": "BackupConfiguration",
                "name": invoker,
            },
            "session": "frequent-backup",
        },
        "status": {"phase": phase},
    }


RUNNING = backup_session("sample-backup-frequent-backup-1764070000", "sample-backup", "Running")


def test_a_restore_waits_pending_while_a_backup_of_its_target_runs() -> None:
    response = sync(restore_session(), [*world(), RUNNING])
    status = response["status"]
    assert status["phase"] == "Pending"
    assert [c for c in response["children"] if c["kind"] == "Job"] == []
    ensured = condition(status, "RestoreExecutorEnsured")
    assert ensured["status"] == "False"
    assert ensured["reason"] == "BackupRunning"
    assert ensured["message"] == (
        "waiting for BackupSession demo/sample-backup-frequent-backup-1764070000 "
        "of the same target to finish"
    )


def test_a_running_backup_of_another_target_does_not_hold_the_restore() -> None:
    other = backup_session("other-backup-frequent-backup-1764070000", "other-backup", "Running")
    response = sync(restore_session(), [*world(), other])
    assert the_job(response)["metadata"]["name"].startswith("restore-")


def test_finished_backups_of_the_target_do_not_hold_the_restore() -> None:
    done = backup_session("sample-backup-frequent-backup-1764060000", "sample-backup", "Succeeded")
    response = sync(restore_session(), [*world(), done])
    assert the_job(response)["metadata"]["name"].startswith("restore-")


def test_after_the_wait_the_restore_uses_the_latest_snapshot_of_when_it_began_waiting() -> None:
    waiting = sync(restore_session(), [*world(), RUNNING])
    parent = restore_session(status=waiting["status"])
    # The backup it waited for finished and made a newer Snapshot (maybe of a damaged tree).
    finished = {**RUNNING, "status": {"phase": "Succeeded"}}
    newer = snapshot(NEWER, NEWER_ID, "2026-11-25T11:00:00Z")
    response = sync(parent, [*world(), newer, finished])
    assert f"--snapshot={NEW_ID}" in container(the_job(response))["args"]
    assert response["status"]["dependencies"][0]["name"] == NEW


def test_a_changed_spec_while_waiting_chooses_again() -> None:
    waiting = sync(restore_session(), [*world(), RUNNING])
    parent = restore_session(status=waiting["status"])
    parent["metadata"]["generation"] = 2
    newer = snapshot(NEWER, NEWER_ID, "2026-11-25T11:00:00Z")
    response = sync(parent, [*world(), newer])
    assert f"--snapshot={NEWER_ID}" in container(the_job(response))["args"]


def test_a_backup_asked_for_while_the_restore_waits_is_skipped() -> None:
    waiting = sync(restore_session(), [*world(), RUNNING])
    restore = restore_session(status=waiting["status"])
    configuration = backup_world.backup_configuration(status={"phase": "Ready"})
    session = {
        "apiVersion": "core.kubestash.com/v1alpha1",
        "kind": "BackupSession",
        "metadata": {
            "name": "sample-zookeeper-backup-frequent-backup-1764071000",
            "namespace": NAMESPACE,
            "uid": "uid-new",
            "generation": 1,
            "creationTimestamp": "2026-11-25T10:45:00Z",
        },
        "spec": {
            "invoker": {
                "apiGroup": "core.kubestash.com",
                "kind": "BackupConfiguration",
                "name": "sample-zookeeper-backup",
            },
            "session": "frequent-backup",
        },
    }
    body = backup_world.sync_body("backupsession", session, [], [configuration, restore])
    response = backupsession.sync(parse_request(body))
    assert response["status"]["phase"] == "Skipped"
    assert response["children"] == []
    (skipped,) = response["status"]["conditions"]
    assert skipped["message"] == (
        "RestoreSession sample-zookeeper-restore is restoring the same target"
    )
