"""BackupConfiguration hook: Repositories, trigger CronJobs, initial BackupSession, status."""

import copy

from hooks import names
from hooks.controllers import backupconfiguration
from hooks.protocol import parse_request
from tests.hooks import world
from tests.hooks.checks import check_response, child, condition, kinds

BC = "sample-zookeeper-backup"


def related(**storage_overrides):
    return [
        world.namespace(),
        world.appbinding(),
        world.backup_storage(**storage_overrides),
        world.retention_policy(),
        *world.catalog(),
        *world.planted_secrets(),
    ]


def sync(parent, children=(), related_objects=None):
    body = world.sync_body(
        "backupconfiguration",
        parent,
        list(children),
        related(allowed_from="All") if related_objects is None else related_objects,
    )
    response = backupconfiguration.sync(parse_request(body))
    check_response(response)
    return response


def settle(parent, rounds=3):
    """Apply responses the way Metacontroller would: children observed, status written."""
    children, response = [], None
    for _ in range(rounds):
        response = sync(parent, children)
        children = [
            world.observed(c, phase="Ready") if c["kind"] == "Repository" else world.observed(c)
            for c in response["children"]
        ]
        parent = {**parent, "status": response["status"]}
    return parent, children, response


def test_first_sync_creates_repository_cronjob_and_trigger_rbac_but_no_session_yet():
    response = sync(world.backup_configuration())
    # stable order: apiVersion, kind, namespace, name
    assert kinds(response) == [
        ("CronJob", "trigger-sample-zookeeper-backup-frequent-backup"),
        ("RoleBinding", "trigger-sample-zookeeper-backup"),
        ("Repository", "s3-zookeeper-repo"),
        ("ServiceAccount", "trigger-sample-zookeeper-backup"),
    ]
    assert response["status"]["phase"] == "NotReady"
    assert response["status"]["targetFound"] is True
    assert response["resyncAfterSeconds"] == 30


def test_repository_spec_follows_the_session_repository():
    repository = child(sync(world.backup_configuration()), "Repository")
    assert repository["metadata"]["namespace"] == "demo"
    assert repository["spec"] == {
        "appRef": {
            "apiGroup": "kubedb.com",
            "kind": "ZooKeeper",
            "name": "sample-zookeeper",
            "namespace": "demo",
        },
        "storageRef": {"name": "s3-storage", "namespace": "demo"},
        "path": "/s3-zookeeper-repo",
        "deletionPolicy": "Delete",
        "encryptionSecret": {"name": "encrypt-secret", "namespace": "demo"},
    }


def test_cronjob_runs_executor_trigger_with_adoption_labels():
    cronjob = child(sync(world.backup_configuration()), "CronJob")
    spec = cronjob["spec"]
    assert spec["schedule"] == "*/5 * * * *" and spec["suspend"] is False
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["jobTemplate"]["spec"]["backoffLimit"] == 1
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "trigger-sample-zookeeper-backup"
    args = pod["containers"][0]["args"]
    assert args[:4] == [
        "trigger",
        "--namespace=demo",
        f"--backup-configuration={BC}",
        "--session=frequent-backup",
    ]
    assert f"--label=controller-uid={world.BC_UID}" in args


def test_a_cronjob_changed_after_it_was_returned_does_not_change_the_next_one():
    parent = world.backup_configuration()
    first = child(sync(parent), "CronJob")
    expected = copy.deepcopy(first)
    first["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"].clear()
    first["metadata"]["labels"]["changed"] = "yes"
    assert child(sync(parent), "CronJob") == expected


def test_the_cronjob_follows_a_changed_trigger_function():
    parent = world.backup_configuration()
    catalog = world.catalog()
    trigger = next(d for d in catalog if d["metadata"]["name"] == "zookeeper-trigger")
    trigger["spec"]["image"] = "registry.example/zkstash-executor:next"
    before = child(sync(parent), "CronJob")
    with_new_trigger = [
        world.namespace(),
        world.appbinding(),
        world.backup_storage(allowed_from="All"),
        world.retention_policy(),
        *catalog,
    ]
    after = child(sync(parent, related_objects=with_new_trigger), "CronJob")
    image = after["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "registry.example/zkstash-executor:next"
    assert after["metadata"]["name"] == before["metadata"]["name"]


def test_cronjobs_of_configurations_with_other_names_or_uids_are_their_own():
    parent = world.backup_configuration()
    renamed = copy.deepcopy(parent)
    renamed["metadata"]["name"] = "other-backup"
    renamed["metadata"]["uid"] = "0a0a0a0a-1111-4222-8333-00000000ffff"
    pod = child(sync(renamed), "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "trigger-other-backup"
    assert (
        "--label=controller-uid=0a0a0a0a-1111-4222-8333-00000000ffff"
        in (pod["containers"][0]["args"])
    )
    assert "--backup-configuration=other-backup" in pod["containers"][0]["args"]


def test_once_ready_the_initial_backup_session_is_created_from_creation_time():
    _parent, _children, response = settle(world.backup_configuration())
    assert response["status"]["phase"] == "Ready"
    session = child(response, "BackupSession")
    assert session["metadata"]["name"] == "sample-zookeeper-backup-frequent-backup-1726572962"
    assert session["spec"] == {
        "invoker": {"apiGroup": "core.kubestash.com", "kind": "BackupConfiguration", "name": BC},
        "session": "frequent-backup",
    }
    conditions = response["status"]["sessions"][0]["conditions"]
    assert condition(conditions, "InitialBackupTriggered")["status"] == "True"
    assert condition(conditions, "SchedulerEnsured")["status"] == "True"


def test_initial_session_is_not_recreated_after_it_was_pruned():
    parent, children, _ = settle(world.backup_configuration())
    without_sessions = [c for c in children if c["kind"] != "BackupSession"]
    response = sync(parent, without_sessions)
    assert "BackupSession" not in [k for k, _ in kinds(response)]


def test_session_history_keeps_running_and_newest_finished_sessions():
    parent, children, _ = settle(world.backup_configuration())
    base = [c for c in children if c["kind"] != "BackupSession"]
    sessions = []
    for i, phase in enumerate(["Succeeded", "Failed", "Succeeded", "Running"]):
        sessions.append(
            {
                "apiVersion": "core.kubestash.com/v1alpha1",
                "kind": "BackupSession",
                "metadata": {
                    "name": f"{BC}-frequent-backup-17265729{i}0",
                    "namespace": "demo",
                    "creationTimestamp": f"2024-09-17T11:4{i}:00Z",
                    "labels": {"controller-uid": world.BC_UID},
                },
                "spec": {
                    "invoker": {"kind": "BackupConfiguration", "name": BC},
                    "session": "frequent-backup",
                },
                "status": {"phase": phase},
            }
        )
    response = sync(parent, base + sessions)
    kept = [name for kind, name in kinds(response) if kind == "BackupSession"]
    # sessionHistoryLimit defaults to 1: the newest finished one and the running one stay
    assert kept == [f"{BC}-frequent-backup-1726572920", f"{BC}-frequent-backup-1726572930"]
    assert "status" not in child(response, "BackupSession", kept[0])


def test_paused_configuration_suspends_the_cronjob_and_triggers_nothing():
    _parent, _children, response = settle(world.backup_configuration(paused=True))
    assert child(response, "CronJob")["spec"]["suspend"] is True
    assert "BackupSession" not in [k for k, _ in kinds(response)]


def test_invalid_spec_is_reported_and_keeps_every_observed_child():
    parent, children, ready = settle(world.backup_configuration())
    broken = copy.deepcopy(parent)
    broken["spec"]["sessions"][0]["scheduler"]["schedule"] = "*/61 * * * *"
    response = sync(broken, children)
    assert response["status"]["phase"] == "Invalid"
    validation = condition(response["status"]["conditions"], "ValidationPassed")
    assert validation["status"] == "False"
    assert "spec.sessions[0].scheduler.schedule" in validation["message"]
    assert kinds(response) == kinds(ready)


def test_storage_that_does_not_allow_the_namespace_blocks_backups_with_a_clear_condition():
    objects = related(allowed_from="Same")
    objects = [o for o in objects if o["kind"] != "BackupStorage"] + [
        world.backup_storage(ns="storage-ns", allowed_from="Same")
    ]
    parent = world.backup_configuration(
        backends=[
            {
                "name": "s3-backend",
                "storageRef": {"name": "s3-storage", "namespace": "storage-ns"},
                "retentionPolicy": {"name": "demo-retention", "namespace": "demo"},
            }
        ]
    )
    response = sync(parent, related_objects=objects)
    assert response["status"]["phase"] == "Invalid"
    message = condition(response["status"]["conditions"], "ValidationPassed")["message"]
    assert "spec.backends[0].storageRef" in message and "does not allow namespace 'demo'" in message
    assert response["children"] == []


def test_selector_usage_policy_reads_the_namespace_labels():
    storage = world.backup_storage(
        ns="storage-ns", allowed_from="Selector", selector={"matchLabels": {"backup": "allowed"}}
    )
    parent = world.backup_configuration(
        backends=[
            {
                "name": "s3-backend",
                "storageRef": {"name": "s3-storage", "namespace": "storage-ns"},
                "retentionPolicy": {"name": "demo-retention", "namespace": "demo"},
            }
        ]
    )
    base = [world.appbinding(), world.retention_policy(), *world.catalog(), storage]
    denied = sync(parent, related_objects=[world.namespace(), *base])
    allowed = sync(parent, related_objects=[world.namespace(labels={"backup": "allowed"}), *base])
    assert denied["status"]["phase"] == "Invalid"
    assert allowed["status"]["phase"] == "NotReady"
    assert ("Repository", "s3-zookeeper-repo") in kinds(allowed)


def test_omitted_backends_use_the_default_storage_and_retention_policy():
    parent = world.backup_configuration(
        backends=[],
        sessions=[world.session("frequent-backup", [("repo", "")])],
    )
    objects = [o for o in related() if o["kind"] != "BackupStorage"] + [
        world.backup_storage(name="default-storage", default=True, allowed_from="Same")
    ]
    response = sync(parent, related_objects=objects)
    assert child(response, "Repository")["spec"]["storageRef"] == {
        "name": "default-storage",
        "namespace": "demo",
    }
    backend = response["status"]["backends"][0]
    assert backend["name"] == "default" and backend["retentionPolicy"]["found"] is True


def test_missing_target_and_addon_are_reported_not_ready():
    objects = [o for o in related() if o["kind"] not in ("AppBinding", "Addon")]
    response = sync(world.backup_configuration(), related_objects=objects)
    assert response["status"]["targetFound"] is False
    assert response["status"]["dependencies"] == [
        {
            "apiGroup": "addons.kubestash.com",
            "kind": "Addon",
            "name": "zookeeper-addon",
            "found": False,
        }
    ]
    assert response["status"]["phase"] == "NotReady"


def test_three_sessions_two_repositories_each():
    sessions = [
        world.session(f"s{i}", [(f"repo-{i}-a", "s3-backend"), (f"repo-{i}-b", "s3-backend")])
        for i in range(3)
    ]
    _parent, _children, response = settle(world.backup_configuration(sessions=sessions))
    assert len([k for k, _ in kinds(response) if k == "Repository"]) == 6
    assert len([k for k, _ in kinds(response) if k == "CronJob"]) == 3
    assert len([k for k, _ in kinds(response) if k == "BackupSession"]) == 3
    assert response["status"]["phase"] == "Ready"


def test_customize_asks_for_target_namespace_addons_and_storages():
    body = world.sync_body("backupconfiguration", world.backup_configuration())
    rules = backupconfiguration.customize(parse_request(body))["relatedResources"]
    resources = {(r["resource"], tuple(r.get("names", ()))) for r in rules}
    assert ("appbindings", ("sample-zookeeper",)) in resources
    assert ("namespaces", ("demo",)) in resources
    assert ("addons", ("zookeeper-addon",)) in resources
    assert ("backupstorages", ()) in resources


# --- pruning waits for the Snapshots -------------------------------------------------------

REPO = "s3-zookeeper-repo"
OLD = f"{BC}-frequent-backup-1726572900"
NEW = f"{BC}-frequent-backup-1726572960"


def finished_session(name, created, ran_job=True, snapshots_ensured=True):
    """A Succeeded BackupSession as its own controller left it (one Snapshot, in REPO)."""
    status_conditions = [
        {"type": "BackupExecutorEnsured", "status": str(ran_job)},
        {"type": "SnapshotsEnsured", "status": str(snapshots_ensured)},
    ]
    return {
        "apiVersion": "core.kubestash.com/v1alpha1",
        "kind": "BackupSession",
        "metadata": {
            "name": name,
            "namespace": "demo",
            "creationTimestamp": created,
            "labels": {"controller-uid": world.BC_UID},
        },
        "spec": {
            "invoker": {"kind": "BackupConfiguration", "name": BC},
            "session": "frequent-backup",
        },
        "status": {
            "phase": "Succeeded",
            "snapshots": [
                {"name": names.snapshot_name(REPO, name), "phase": "Succeeded", "repository": REPO}
            ],
            "conditions": status_conditions,
        },
    }


def snapshot_of(backup_session, phase):
    """The Snapshot the Repository made for a session, labelled as Repositories label them."""
    return {
        "apiVersion": "storage.kubestash.com/v1alpha1",
        "kind": "Snapshot",
        "metadata": {
            "name": names.snapshot_name(REPO, backup_session),
            "namespace": "demo",
            "labels": {
                names.LABEL_INVOKER_KIND: "BackupConfiguration",
                names.LABEL_INVOKER_NAME: BC,
                names.LABEL_BACKUP_SESSION: backup_session,
            },
        },
        "spec": {"repository": REPO, "backupSession": backup_session},
        "status": {"phase": phase},
    }


def kept_sessions(old_session, snapshots, keep_repository=True):
    """Which BackupSessions survive a sync with two finished ones and a history limit of 1."""
    parent, children, _ = settle(world.backup_configuration())
    base = [
        c
        for c in children
        if c["kind"] != "BackupSession" and (keep_repository or c["kind"] != "Repository")
    ]
    sessions = [old_session, finished_session(NEW, "2024-09-17T11:46:00Z")]
    response = sync(parent, base + sessions, [*related(allowed_from="All"), *snapshots])
    return [name for kind, name in kinds(response) if kind == "BackupSession"]


def test_session_past_the_history_limit_is_kept_while_its_snapshot_is_not_terminal():
    old = finished_session(OLD, "2024-09-17T11:45:00Z")
    # The session's own status says Succeeded (from the Job); the Snapshot has not read it yet.
    assert kept_sessions(old, [snapshot_of(OLD, "Running"), snapshot_of(NEW, "Succeeded")]) == [
        OLD,
        NEW,
    ]


def test_session_past_the_history_limit_is_pruned_once_its_snapshot_is_terminal():
    old = finished_session(OLD, "2024-09-17T11:45:00Z")
    assert kept_sessions(old, [snapshot_of(OLD, "Succeeded"), snapshot_of(NEW, "Pending")]) == [NEW]


def test_session_is_kept_while_a_snapshot_it_expects_is_not_created_yet():
    old = finished_session(OLD, "2024-09-17T11:45:00Z", snapshots_ensured=False)
    assert kept_sessions(old, [snapshot_of(NEW, "Succeeded")]) == [OLD, NEW]


def test_session_that_saw_its_snapshots_is_pruned_after_retention_deleted_them():
    old = finished_session(OLD, "2024-09-17T11:45:00Z", snapshots_ensured=True)
    assert kept_sessions(old, [snapshot_of(NEW, "Succeeded")]) == [NEW]


def test_session_is_not_kept_for_a_snapshot_whose_repository_is_gone():
    old = finished_session(OLD, "2024-09-17T11:45:00Z", snapshots_ensured=False)
    assert kept_sessions(old, [], keep_repository=False) == [NEW]


def test_session_that_never_ran_a_job_is_pruned_although_its_snapshot_is_pending():
    old = finished_session(OLD, "2024-09-17T11:45:00Z", ran_job=False)
    old["status"]["phase"] = "Skipped"
    assert kept_sessions(old, [snapshot_of(OLD, "Pending")]) == [NEW]


def test_customize_relates_the_snapshots_of_this_configurations_sessions():
    body = world.sync_body("backupconfiguration", world.backup_configuration())
    rules = backupconfiguration.customize(parse_request(body))["relatedResources"]
    (rule,) = [r for r in rules if r["resource"] == "snapshots"]
    assert rule == {
        "apiVersion": "storage.kubestash.com/v1alpha1",
        "resource": "snapshots",
        "namespace": "demo",
        "labelSelector": {
            "matchLabels": {
                "kubestash.com/invoker-kind": "BackupConfiguration",
                "kubestash.com/invoker-name": BC,
            }
        },
    }
