"""Fan-out upload: one stream into several real restic repositories, nothing partial kept."""

from __future__ import annotations

import io
import os
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import BinaryIO

import pytest

from executor.backends import Repository, base_environment
from executor.restic import STREAM_FILENAME, ResticRepository
from executor.stream import AclEntry, NodeRecord, StreamHeader, StreamWriter
from executor.upload import RUN_TAG_PREFIX, stream_to_repositories, unlock_stale_locks
from tests.infra.s3_fixtures import LocalResticRepository


def stream_of(nodes: int, value_bytes: int) -> bytes:
    """A complete zkstash stream (restic commits only those: `executor.stream_gate`)."""
    out = io.BytesIO()
    writer = StreamWriter(out, StreamHeader(root="/"))
    writer.node(NodeRecord("/", None, STAT, OPEN, 0, 0))
    for i in range(nodes):
        writer.node(
            NodeRecord(f"/n{i:03d}", i.to_bytes(4, "big") * (value_bytes // 4), STAT, OPEN, 0, 0)
        )
    writer.finish(zxid_start=1, zxid_end=2)
    return out.getvalue()


STAT = (1, 2, 3, 4, 5, 6, 7, 0, 3, 0, 9)
OPEN = (AclEntry(31, "world", "anyone"),)
# 3 MiB: more than the fan-out's 1 MiB chunk, so restic really receives data in several parts.
PAYLOAD = stream_of(30, 100_000)


class ProducerFailed(Exception):
    pass


def open_repositories(stack: ExitStack, *local: LocalResticRepository) -> list[ResticRepository]:
    repos = []
    for index, repo in enumerate(local):
        spec = Repository(name=f"repo{index}", url=str(repo.path), env=repo.env())
        env = {**base_environment(os.environ), "RESTIC_CACHE_DIR": str(repo.cache_dir)}
        repos.append(stack.enter_context(ResticRepository(spec, env)))
    return repos


def write_payload(out: BinaryIO) -> int:
    for start in range(0, len(PAYLOAD), 100_000):  # many small writes, like a dump
        out.write(PAYLOAD[start : start + 100_000])
    return len(PAYLOAD)


def write_half_then_fail(out: BinaryIO) -> int:
    out.write(PAYLOAD[: len(PAYLOAD) // 2])
    raise ProducerFailed("ZooKeeper went away")


@pytest.fixture
def two_repositories(
    restic_repository: LocalResticRepository, second_restic_repository: LocalResticRepository
) -> Iterator[tuple[list[ResticRepository], list[LocalResticRepository]]]:
    with ExitStack() as stack:
        yield (
            open_repositories(stack, restic_repository, second_restic_repository),
            [
                restic_repository,
                second_restic_repository,
            ],
        )


def test_every_repository_gets_the_identical_stream(two_repositories) -> None:
    repos, local = two_repositories
    result = stream_to_repositories(repos, write_payload, tags=["zkstash"], host="zk")
    assert result.succeeded
    for outcome, repo in zip(result.outcomes, local, strict=True):
        assert outcome.phase == "Succeeded"
        assert len(outcome.snapshot_id) == 64
        assert repo.dump(outcome.snapshot_id, "/" + STREAM_FILENAME) == PAYLOAD


def test_snapshots_carry_the_tags_and_a_unique_run_tag(two_repositories) -> None:
    repos, _ = two_repositories
    first = stream_to_repositories(repos[:1], write_payload, tags=["zkstash"], host="zk")
    second = stream_to_repositories(repos[:1], write_payload, tags=["zkstash"], host="zk")
    listed = {s.id: s for s in repos[0].snapshots()}
    tags_first = listed[first.outcomes[0].snapshot_id].tags
    tags_second = listed[second.outcomes[0].snapshot_id].tags
    assert "zkstash" in tags_first
    run_tags = [t for t in (*tags_first, *tags_second) if t.startswith(RUN_TAG_PREFIX)]
    assert len(set(run_tags)) == 2


def test_a_failing_producer_leaves_no_snapshot_in_any_repository(two_repositories) -> None:
    repos, local = two_repositories
    result = stream_to_repositories(repos, write_half_then_fail, tags=["zkstash"], host="zk")
    assert not result.succeeded
    assert isinstance(result.producer_error, ProducerFailed)
    assert [o.phase for o in result.outcomes] == ["Failed", "Failed"]
    assert local[0].snapshot_ids() == []
    assert local[1].snapshot_ids() == []


def test_an_aborted_backup_leaves_no_lock_in_any_repository(two_repositories) -> None:
    """The restic processes killed on abort held locks; left behind, those would block the
    next forget, check or prune."""
    repos, local = two_repositories

    def held_locks(repo) -> list[str]:
        # restic names a lock file by its 64-hex id once written; "<id>-tmp-N" is a half-written
        # file restic itself ignores, so it is neither a lock nor something to wait for.
        return restic_ids(" ".join(p.name for p in (repo.path / "locks").iterdir()))

    def fail_once_restic_holds_its_locks(out: BinaryIO) -> int:
        out.write(PAYLOAD)
        deadline = time.monotonic() + 30
        while not all(held_locks(repo) for repo in local):
            assert time.monotonic() < deadline, "restic never took its lock"
            time.sleep(0.05)
        raise ProducerFailed("ZooKeeper went away")

    stream_to_repositories(repos, fail_once_restic_holds_its_locks, tags=["zkstash"], host="zk")
    assert [held_locks(repo) for repo in local] == [[], []]


def restic_ids(listing: str) -> list[str]:
    """The 64-hex ids in a ``restic list`` output."""
    return [word for word in listing.split() if re.fullmatch("[0-9a-f]{64}", word)]


def test_one_failing_restic_fails_only_its_repository(two_repositories, tmp_path) -> None:
    repos, local = two_repositories
    with ResticRepository(
        Repository(name="missing", url=str(tmp_path / "nowhere"), env=local[0].env()),
        base_environment(os.environ),
    ) as missing:
        result = stream_to_repositories(
            [repos[0], missing], write_payload, tags=["zkstash"], host="zk"
        )
    assert not result.succeeded
    assert result.outcomes[0].phase == "Succeeded"
    assert result.outcomes[1].phase == "Failed"
    assert "no restic repository" in result.outcomes[1].error
    assert len(local[0].snapshot_ids()) == 1


def test_a_stream_that_restic_stored_short_is_forgotten(two_repositories) -> None:
    """If restic's byte count differs from what was written, the snapshot is not trusted."""
    repos, local = two_repositories

    def write_then_lie(out: BinaryIO) -> int:
        write_payload(out)
        out.bytes_written += 1  # what a lost chunk would look like from the producer's side
        return len(PAYLOAD)

    result = stream_to_repositories(repos[:1], write_then_lie, tags=["zkstash"], host="zk")
    assert result.outcomes[0].phase == "Failed"
    assert "bytes" in result.outcomes[0].error
    assert local[0].snapshot_ids() == []


def test_stale_lock_removal_answers_for_each_repository_in_order(
    two_repositories, tmp_path
) -> None:
    repos, local = two_repositories
    with ResticRepository(
        Repository(name="missing", url=str(tmp_path / "nowhere"), env=local[0].env()),
        base_environment(os.environ),
    ) as missing:
        problems = unlock_stale_locks([repos[0], missing, repos[1]])
    assert [problem is None for problem in problems] == [True, False, True]
    assert "no restic repository" in str(problems[1])
