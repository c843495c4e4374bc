"""Repository controller: a Snapshot created for a BackupSession that was then Skipped.

The Repository may see a new BackupSession before the session's controller has decided
anything and create its Snapshot; the session is then Skipped and never runs. A Skipped session
has no Snapshot: while it holds no data it is no longer desired, so Metacontroller deletes it,
and it counts neither in the Repository's status nor in retention.
"""

from __future__ import annotations

import copy

from hooks.controllers import repository as repository_controller
from schemas.validation import validate
from tests.hooks.storage_side_bodies import (
    assert_children_valid,
    assert_no_secret,
    assert_strict_keys,
    body,
    call,
    repository,
)
from tests.hooks.test_repository import (
    CTRL,
    KINDS,
    backup_session,
    observed_snapshot,
    related,
    retention_policy,
    snapshots_of,
)

SKIPPED_UNIX = 1764064805
SKIPPED_SNAPSHOT = f"s3-repo-sample-backup-frequent-backup-{SKIPPED_UNIX}"


def first_snapshots(sessions: list[dict]) -> dict[str, dict]:
    """The Snapshots the Repository desires for ``sessions`` (none observed yet)."""
    response = call(
        repository_controller,
        body(CTRL, repository(), related=related(sessions, retention_policy()), child_kinds=KINDS),
    )
    return snapshots_of(response)


def created_before_the_session_had_a_phase(status: dict | None = None) -> dict:
    """The Snapshot the Repository made while the session had no phase, as observed since."""
    unsynced = backup_session(SKIPPED_UNIX)
    del unsynced["status"]
    obj = copy.deepcopy(first_snapshots([unsynced])[SKIPPED_SNAPSHOT])
    obj["metadata"]["creationTimestamp"] = "2026-11-25T15:00:00Z"
    obj["status"] = status if status is not None else {"phase": "Pending"}
    return obj


def succeeded_snapshots(*hours: int) -> list[dict]:
    """Succeeded Snapshots (sessions already pruned), one per hour given."""
    sessions = [backup_session(1764064800 + hour) for hour in hours]
    desired = first_snapshots(sessions)
    return [
        observed_snapshot(
            desired[f"s3-repo-sample-backup-frequent-backup-{1764064800 + hour}"],
            "Succeeded",
            hour,
            restic_id=f"{hour:064d}",
        )
        for hour in hours
    ]


def sync(children: list[dict], sessions: list[dict], policy: dict | None = None) -> dict:
    response = call(
        repository_controller,
        body(
            CTRL,
            repository(),
            children=children,
            related=related(sessions, policy or retention_policy()),
            child_kinds=KINDS,
        ),
    )
    assert_children_valid(response)
    assert_strict_keys(response)
    assert_no_secret(response)
    assert validate({**repository(), "status": response["status"]}) == []
    return response


def test_snapshot_of_a_session_without_a_phase_yet_is_desired() -> None:
    unsynced = backup_session(SKIPPED_UNIX)
    del unsynced["status"]
    assert SKIPPED_SNAPSHOT in first_snapshots([unsynced])


def test_pending_snapshot_of_a_skipped_session_is_no_longer_desired() -> None:
    response = sync(
        [created_before_the_session_had_a_phase()],
        [backup_session(SKIPPED_UNIX, "Skipped")],
    )
    assert snapshots_of(response) == {}


def test_snapshot_without_a_status_yet_of_a_skipped_session_is_no_longer_desired() -> None:
    obj = created_before_the_session_had_a_phase()
    del obj["status"]
    response = sync([obj], [backup_session(SKIPPED_UNIX, "Skipped")])
    assert snapshots_of(response) == {}


def test_skipped_sessions_snapshot_counts_in_neither_count_nor_recent_snapshots() -> None:
    kept = succeeded_snapshots(11, 12)
    response = sync(
        [*kept, created_before_the_session_had_a_phase()],
        [backup_session(SKIPPED_UNIX, "Skipped")],
    )
    status = response["status"]
    assert status["snapshotCount"] == 2
    assert [s["name"] for s in status["recentSnapshots"]] == sorted(
        (s["metadata"]["name"] for s in kept), reverse=True
    )
    assert sorted(snapshots_of(response)) == sorted(s["metadata"]["name"] for s in kept)


def test_skipped_sessions_snapshot_does_not_move_retentions_now() -> None:
    # Retention's "now" is the newest Snapshot's time. The skipped session's Snapshot (15:00)
    # would put 10:00 outside a 3h maxRetentionPeriod; without it, now is 11:00.
    kept = succeeded_snapshots(10, 11)
    policy = retention_policy({"maxRetentionPeriod": "3h"})
    response = sync(
        [*kept, created_before_the_session_had_a_phase()],
        [backup_session(SKIPPED_UNIX, "Skipped")],
        policy,
    )
    policies = {name: c["spec"]["deletionPolicy"] for name, c in snapshots_of(response).items()}
    assert policies == {s["metadata"]["name"]: "Delete" for s in kept}


def test_pending_snapshot_of_a_session_not_skipped_is_kept() -> None:
    response = sync(
        [created_before_the_session_had_a_phase()],
        [backup_session(SKIPPED_UNIX, "Pending")],
    )
    assert SKIPPED_SNAPSHOT in snapshots_of(response)


def test_snapshot_of_a_skipped_session_that_holds_data_is_kept() -> None:
    # Never expected (a Skipped session runs no Job), but data in restic is never let go
    # of except by retention.
    with_data = created_before_the_session_had_a_phase()
    with_data["status"] = observed_snapshot(with_data, "Succeeded", 15)["status"]
    response = sync([with_data], [backup_session(SKIPPED_UNIX, "Skipped")])
    assert SKIPPED_SNAPSHOT in snapshots_of(response)
    assert response["status"]["snapshotCount"] == 1


def test_failed_snapshot_of_a_skipped_session_is_kept() -> None:
    failed = created_before_the_session_had_a_phase({"phase": "Failed"})
    response = sync([failed], [backup_session(SKIPPED_UNIX, "Skipped")])
    assert SKIPPED_SNAPSHOT in snapshots_of(response)
