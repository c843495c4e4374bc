"""KubeStash name rules reproduce the names KubeStash itself generates (reference §5)."""

from hooks import names


def test_backup_session_name_joins_bc_session_and_unix_seconds():
    assert (
        names.backup_session_name("sample-zookeeper-backup", "frequent-backup", 1726572962)
        == "sample-zookeeper-backup-frequent-backup-1726572962"
    )


def test_snapshot_name_is_cut_like_kubestash_keeping_32_and_31_characters():
    assert (
        names.snapshot_name(
            "s3-zookeeper-repo", "sample-zookeeper-backup-frequent-backup-1726572962"
        )
        == "s3-zookeeper-repo-sample-zookeepckup-frequent-backup-1726572962"
    )


def test_blueprint_snapshot_name_matches_kubestash_docs():
    assert (
        names.snapshot_name(
            "default-blueprint", "appbinding-sample-zookeeper-frequent-backup-1726736101"
        )
        == "default-blueprint-appbinding-sameper-frequent-backup-1726736101"
    )


def test_trigger_cronjob_name_is_capped_at_52_characters():
    short = names.trigger_cronjob_name("sample-zookeeper-backup", "frequent-backup")
    assert short == "trigger-sample-zookeeper-backup-frequent-backup"
    long = names.trigger_cronjob_name("a-very-long-backup-configuration-name", "nightly-full")
    # 58 characters joined: the first 26 and the last 26 are kept
    assert long == "trigger-a-very-long-backupguration-name-nightly-full"
    assert len(long) == 52


def test_cut_trims_dashes_at_the_seam_ends():
    name = names.valid_name_with_prefix_n_suffix("-" * 40, "x", "y" * 40)
    assert not name.startswith("-") and len(name) <= 63


def test_hashed_job_name_changes_with_spec_and_is_stable():
    first = names.hashed_job_name("backup", "bs-1", {"image": "a"})
    assert first == names.hashed_job_name("backup", "bs-1", {"image": "a"})
    assert first != names.hashed_job_name("backup", "bs-1", {"image": "b"})
    assert len(first) <= 63 and first.startswith("backup-bs-1-")


def test_unix_seconds_reads_rfc3339():
    assert names.unix_seconds("2024-09-17T11:36:02Z") == 1726572962


def test_auto_backup_configuration_name():
    assert names.auto_backup_configuration_name("AppBinding", "sample-zookeeper") == (
        "appbinding-sample-zookeeper"
    )
