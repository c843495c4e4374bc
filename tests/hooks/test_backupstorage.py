"""BackupStorage controller: init Job, readiness, repositories using it, Delete/WipeOut."""

from __future__ import annotations

import copy
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from hooks.controllers import backupstorage
from hooks.protocol import parse_request
from tests.hooks.storage_side_bodies import (
    NAMESPACE,
    assert_children_valid,
    assert_no_secret,
    assert_strict_keys,
    body,
    call,
    catalog,
    controller,
    job,
    planted_secret,
    repository,
    storage,
    terminated_pod,
)

CTRL = controller("backupstorage", "backupstorages", "storage.kubestash.com/v1alpha1")
KINDS = ["Job.batch/v1"]
LABELS = {"kubestash.com/invoker-kind": "BackupStorage", "kubestash.com/invoker-name": "s3-storage"}
# The wipe Function the executor catalog must add (docs/contracts.md §2 `wipe-storage`).
WIPE_FUNCTION = {
    "apiVersion": "addons.kubestash.com/v1alpha1",
    "kind": "Function",
    "metadata": {"name": "zookeeper-wipe-storage"},
    "spec": {
        "image": "ghcr.io/zkstash/zkstash-executor:0.1.0",
        "command": ["executor"],
        "args": ["wipe-storage", "--storage=${storage}", "--env-prefix=${envPrefix:=}"],
    },
}


def related(*extra: dict) -> list[dict]:
    return [planted_secret("s3-secret"), *catalog(), *extra]


def deleting(policy: str) -> dict:
    obj = storage(deletion_policy=policy)
    obj["metadata"]["deletionTimestamp"] = "2026-11-26T00:00:00Z"
    return obj


def with_result(first: dict, state: str, phase: str, error: str = "") -> dict:
    """The observed init (or wipe) Job of ``first`` plus its pod's result."""
    name = next(c for c in first["children"] if c["kind"] == "Job")["metadata"]["name"]
    pod = terminated_pod(
        "pod",
        LABELS,
        {"kind": "InitResult", "version": 1, "phase": phase, "error": error},
        f"uid-{name}",
    )
    return {"job": job(name, LABELS, f"uid-{name}", state), "pod": pod}


def test_first_sync_creates_the_init_storage_job() -> None:
    response = call(backupstorage, body(CTRL, storage(), related=related(), child_kinds=KINDS))
    [init] = response["children"]
    container = init["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][0] == "init-storage"
    assert json.loads(container["args"][1].split("=", 1)[1])["s3"]["bucket"] == "zk"
    env = {e["name"]: e for e in container["env"]}
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "s3-secret",
        "key": "AWS_SECRET_ACCESS_KEY",
    }
    assert response["status"]["phase"] == "NotReady"
    assert_children_valid(response)
    assert_strict_keys(response)
    assert_no_secret(response)


def test_succeeded_init_job_and_found_secret_make_it_ready() -> None:
    first = call(backupstorage, body(CTRL, storage(), related=related(), child_kinds=KINDS))
    observed = with_result(first, "Complete", "Succeeded")
    response = call(
        backupstorage,
        body(
            CTRL,
            storage(),
            children=[observed["job"]],
            related=related(observed["pod"]),
            child_kinds=KINDS,
        ),
    )
    assert response["status"]["phase"] == "Ready"
    types = {c["type"]: c for c in response["status"]["conditions"]}
    assert types["BackendInitialized"]["reason"] == "BackendInitializationSucceeded"
    assert types["BackendSecretFound"]["reason"] == "BackendSecretAvailable"


def test_missing_secret_makes_it_not_ready_even_when_initialized() -> None:
    first = call(backupstorage, body(CTRL, storage(), related=related(), child_kinds=KINDS))
    observed = with_result(first, "Complete", "Succeeded")
    response = call(
        backupstorage,
        body(
            CTRL,
            storage(),
            children=[observed["job"]],
            related=[*catalog(), observed["pod"]],
            child_kinds=KINDS,
        ),
    )
    assert response["status"]["phase"] == "NotReady"
    secret = next(c for c in response["status"]["conditions"] if c["type"] == "BackendSecretFound")
    assert secret["status"] == "False"
    assert secret["reason"] == "BackendSecretNotAvailable"


def test_failed_init_job_reports_the_error() -> None:
    first = call(backupstorage, body(CTRL, storage(), related=related(), child_kinds=KINDS))
    observed = with_result(first, "Failed", "Failed", "bucket zk does not exist")
    response = call(
        backupstorage,
        body(
            CTRL,
            storage(),
            children=[observed["job"]],
            related=related(observed["pod"]),
            child_kinds=KINDS,
        ),
    )
    initialized = next(
        c for c in response["status"]["conditions"] if c["type"] == "BackendInitialized"
    )
    assert initialized["status"] == "False"
    assert "bucket zk does not exist" in initialized["message"]


def test_repositories_using_the_storage_are_listed_with_their_sizes() -> None:
    used = repository("s3-repo")
    used["status"] = {"size": "2.000 KiB"}
    other = repository("other-repo")
    other["spec"]["storageRef"] = {"name": "gcs-storage"}
    elsewhere = repository("remote-repo")
    elsewhere["metadata"]["namespace"] = "prod"
    elsewhere["status"] = {"size": "1.000 KiB"}
    response = call(
        backupstorage,
        body(CTRL, storage(), related=related(used, other, elsewhere), child_kinds=KINDS),
    )
    assert response["status"]["repositories"] == [
        {"name": "s3-repo", "namespace": NAMESPACE, "path": "/zookeeper", "size": "2.000 KiB"},
        {"name": "remote-repo", "namespace": "prod", "path": "/zookeeper", "size": "1.000 KiB"},
    ]
    assert response["status"]["totalSize"] == "3.000 KiB"


def test_status_validates_against_the_backupstorage_schema() -> None:
    from schemas.validation import validate

    response = call(
        backupstorage, body(CTRL, storage(), related=related(repository()), child_kinds=KINDS)
    )
    assert validate({**storage(), "status": response["status"]}) == []


def test_delete_policy_finalizes_at_once_and_keeps_data() -> None:
    response = call(
        backupstorage,
        body(CTRL, deleting("Delete"), related=related(), child_kinds=KINDS, finalizing=True),
    )
    assert response["finalized"] is True
    assert response["children"] == []


def test_wipeout_runs_the_wipe_job_before_finalizing() -> None:
    request = body(
        CTRL,
        deleting("WipeOut"),
        related=related(WIPE_FUNCTION),
        child_kinds=KINDS,
        finalizing=True,
    )
    first = call(backupstorage, request)
    assert first["finalized"] is False
    [wipe] = first["children"]
    assert wipe["spec"]["template"]["spec"]["containers"][0]["args"][0] == "wipe-storage"
    assert_children_valid(first)
    assert_no_secret(first)
    observed = with_result(first, "Complete", "Succeeded")
    done = call(
        backupstorage,
        body(
            CTRL,
            deleting("WipeOut"),
            children=[observed["job"]],
            related=related(WIPE_FUNCTION, observed["pod"]),
            child_kinds=KINDS,
            finalizing=True,
        ),
    )
    assert done["finalized"] is True


def test_wipeout_without_the_wipe_function_waits_and_says_why() -> None:
    without_wipe = [o for o in related() if o["metadata"]["name"] != "zookeeper-wipe-storage"]
    response = call(
        backupstorage,
        body(CTRL, deleting("WipeOut"), related=without_wipe, child_kinds=KINDS, finalizing=True),
    )
    assert response["finalized"] is False
    blocked = next(
        c for c in response["status"]["conditions"] if c["type"] == "BackendDataWipedOut"
    )
    assert "zookeeper-wipe-storage" in blocked["message"]


def test_customize_asks_for_the_secret_by_name_only() -> None:
    rules = backupstorage.customize(parse_request({"controller": CTRL, "parent": storage()}))
    secret_rule = next(r for r in rules["relatedResources"] if r["resource"] == "secrets")
    assert secret_rule == {
        "apiVersion": "v1",
        "resource": "secrets",
        "namespace": NAMESPACE,
        "names": ["s3-secret"],
    }


@settings(max_examples=30, deadline=None)
@given(st.booleans(), st.booleans(), st.sampled_from(["Delete", "WipeOut"]))
def test_property_deterministic_and_keeps_observed_children(has_catalog, finalizing, policy):
    first = call(backupstorage, body(CTRL, storage(), related=related(), child_kinds=KINDS))
    observed = with_result(first, "Complete", "Succeeded")
    objects = related(observed["pod"]) if has_catalog else [observed["pod"]]
    parent = deleting(policy) if finalizing else storage(deletion_policy=policy)
    request = body(
        CTRL,
        parent,
        children=[observed["job"]],
        related=objects,
        child_kinds=KINDS,
        finalizing=finalizing,
    )
    response = call(backupstorage, request)
    assert json.dumps(response, sort_keys=True) == json.dumps(
        call(backupstorage, copy.deepcopy(request)), sort_keys=True
    )
    if not response.get("finalized"):
        assert response["children"], "an unfinished storage never drops its observed Job"
    assert_no_secret(response)
