"""kubectl-zkstash against a stand-in cluster through its REST API: what each command does to
the cluster, and what it prints."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from executor.stream import StreamReader, verify
from tests.e2e.flow import (
    BC,
    CRONJOB,
    NS,
    REPO,
    SESSION,
    session_names,
    wait_phases,
    zookeeper_client,
)
from tests.e2e.objects import RESTIC_PASSWORD
from tests.infra.zookeeper import SUPER_PASSWORD
from tests.plugin.conftest import BackedUp, run_command
from tests.standin import zktree


def cronjob_suspended(backed_up: BackedUp) -> bool | None:
    cronjob = backed_up.kubectl.object("CronJob", NS, CRONJOB)
    return None if cronjob is None else bool(cronjob["spec"].get("suspend"))


def test_trigger_creates_a_backup_session_the_hooks_run_to_succeeded(backed_up, zkstash) -> None:
    before = session_names(backed_up.kubectl)

    done = zkstash("trigger", BC, "-o", "yaml")

    assert done.code == 0, done.stderr
    created = yaml.safe_load(done.stdout)
    name = created["metadata"]["name"]
    assert name.startswith(f"{BC}-{SESSION}-") and name not in before
    bc = backed_up.kubectl.object("BackupConfiguration", NS, BC)
    assert created["metadata"]["labels"]["controller-uid"] == bc["metadata"]["uid"]
    assert created["spec"] == {
        "invoker": {"apiGroup": "core.kubestash.com", "kind": "BackupConfiguration", "name": BC},
        "session": SESSION,
    }
    _, finished = wait_phases(
        backed_up.cluster, backed_up.kubectl, "BackupSession", NS, name, "Succeeded", 90
    )
    assert finished["metadata"]["ownerReferences"][0]["name"] == BC  # adopted
    backed_up.cluster.settle()


def test_the_installed_plugin_triggers_and_prints_kubectls_created_line(backed_up) -> None:
    done = run_command(
        "kubectl-zkstash", "trigger", BC, "--session", SESSION, kubeconfig=backed_up.kubeconfig
    )

    assert done.code == 0, done.stderr
    assert done.stdout.startswith(f"backupsession.core.kubestash.com/{BC}-{SESSION}-")
    assert done.stdout.rstrip().endswith(" created")
    backed_up.cluster.settle()


def test_trigger_of_an_unknown_session_is_a_usage_error_naming_the_sessions(zkstash) -> None:
    done = zkstash("trigger", BC, "--session", "hourly")

    assert done.code == 2
    assert f"has no session 'hourly' in spec.sessions (it has: {SESSION})" in done.stderr


def test_trigger_of_a_missing_configuration_fails_with_the_servers_not_found(zkstash) -> None:
    done = zkstash("trigger", "no-such-config")

    assert done.code == 1
    assert 'backupconfigurations.core.kubestash.com "no-such-config" not found' in done.stderr
    assert "Traceback" not in done.stderr


def test_pause_and_resume_toggle_the_trigger_cronjobs_suspend(backed_up, zkstash) -> None:
    assert cronjob_suspended(backed_up) is False

    paused = zkstash("pause", BC)
    assert paused.code == 0, paused.stderr
    assert paused.stdout.strip() == f"backupconfiguration.core.kubestash.com/{BC} paused"
    backed_up.cluster.run_until(lambda: cronjob_suspended(backed_up), 30, "CronJob suspended")

    resumed = zkstash("resume", BC)
    assert resumed.code == 0, resumed.stderr
    backed_up.cluster.run_until(
        lambda: cronjob_suspended(backed_up) is False, 30, "CronJob resumed"
    )


def test_snapshots_lists_the_repositorys_snapshots_as_json(backed_up, zkstash) -> None:
    done = zkstash("snapshots", "--repository", REPO, "-o", "json")

    assert done.code == 0, done.stderr
    items = json.loads(done.stdout)["items"]
    stored = backed_up.kubectl.objects("Snapshot", NS)
    assert sorted(s["metadata"]["name"] for s in items) == sorted(
        s["metadata"]["name"] for s in stored
    )
    assert {(s["spec"]["repository"], s["status"]["phase"]) for s in items} == {(REPO, "Succeeded")}


def test_snapshots_table_has_the_columns_users_ask_for(backed_up, zkstash) -> None:
    done = zkstash("snapshots", "-A")

    assert done.code == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split() == ["NAMESPACE", "NAME", "REPOSITORY", "SESSION", "TIME", "SIZE", "PHASE"]
    snapshot = _newest_snapshot(backed_up)
    (row,) = [r.split() for r in rows if r.split()[1] == snapshot["metadata"]["name"]]
    status = snapshot["status"]
    assert row == [
        NS,
        snapshot["metadata"]["name"],
        REPO,
        SESSION,
        status["snapshotTime"],
        *status["size"].split(),
        "Succeeded",
    ]


def test_snapshots_of_an_unknown_repository_is_an_empty_list(zkstash) -> None:
    done = zkstash("snapshots", "--repository", "nothing-here", "-o", "json")

    assert done.code == 0
    assert json.loads(done.stdout)["items"] == []


def _newest_snapshot(backed_up: BackedUp) -> dict:
    snapshots = backed_up.kubectl.objects("Snapshot", NS)
    return max(snapshots, key=lambda s: (s["status"]["snapshotTime"], s["metadata"]["name"]))


def _first_snapshot(backed_up: BackedUp) -> str:
    """A Succeeded Snapshot of the tree as seeded (retention may have pruned older ones)."""
    return str(_newest_snapshot(backed_up)["metadata"]["name"])


def test_download_writes_a_verified_stream_holding_the_backed_up_tree(
    backed_up, zkstash, tmp_path: Path
) -> None:
    snapshot = _first_snapshot(backed_up)

    done = zkstash("download", snapshot, "--to", str(tmp_path / "dumps"), "-o", "json")

    assert done.code == 0, done.stderr
    report = json.loads(done.stdout)
    path = Path(report["file"])
    assert path == tmp_path / "dumps" / f"{snapshot}.zkdump"
    with path.open("rb") as stream:
        summary = verify(stream)
    assert (summary.znodes, summary.sha256) == (report["znodes"], report["sha256"])
    with path.open("rb") as stream:
        dumped = {
            r.path: r.data or b""
            for r in StreamReader(stream)
            if r.path.startswith(backed_up.zk_root)
        }
    with zookeeper_client(backed_up.zookeeper.hosts) as client:
        tree = zktree.read_tree(client, backed_up.zk_root)
    assert dumped == {path: data for path, (data, _) in tree.items()}
    assert list((tmp_path / "dumps").iterdir()) == [path]  # no partial file left


def test_download_of_a_missing_snapshot_fails_and_writes_nothing(zkstash, tmp_path: Path) -> None:
    done = zkstash("download", "no-such-snapshot", "--to", str(tmp_path / "out"))

    assert done.code == 1
    assert 'snapshots.storage.kubestash.com "no-such-snapshot" not found' in done.stderr
    assert not (tmp_path / "out").exists()


def test_no_secret_value_appears_in_any_output(backed_up, zkstash, tmp_path: Path) -> None:
    planted = "planted-wrong-password-7f3a9c"
    secret = backed_up.kubectl.object("Secret", NS, "encrypt-secret")
    original = secret["data"]
    snapshot = _first_snapshot(backed_up)
    outputs = [
        zkstash("download", snapshot, "--to", str(tmp_path), "-o", "json"),
        zkstash("snapshots", "-o", "yaml"),
        zkstash("snapshots", "-o", "wide"),
    ]
    backed_up.kubectl.apply({**secret, "data": None, "stringData": {"RESTIC_PASSWORD": planted}})
    try:
        wrong = zkstash("download", snapshot, "--to", str(tmp_path / "wrong"))
    finally:
        backed_up.kubectl.apply({**secret, "data": original})
    assert wrong.code == 1 and "error:" in wrong.stderr
    for run in [*outputs, wrong]:
        for value in (RESTIC_PASSWORD, SUPER_PASSWORD, planted):
            assert value not in run.stdout + run.stderr


def test_real_kubectl_gets_backupconfigurations_as_json(backed_up) -> None:
    done = run_command(
        "kubectl",
        "get",
        "backupconfigurations",
        "-n",
        NS,
        "-o",
        "json",
        kubeconfig=backed_up.kubeconfig,
    )

    assert done.code == 0, done.stderr
    listed = json.loads(done.stdout)
    assert [bc["metadata"]["name"] for bc in listed["items"]] == [BC]
    assert listed["items"][0]["status"]["phase"] == "Ready"


def test_real_kubectl_prints_the_crds_printer_columns(backed_up) -> None:
    done = run_command("kubectl", "get", "bc", kubeconfig=backed_up.kubeconfig)

    assert done.code == 0, done.stderr
    header, row = done.stdout.splitlines()
    assert header.split() == ["NAME", "PHASE", "PAUSED", "AGE"]
    assert row.split()[:2] == [BC, "Ready"]
