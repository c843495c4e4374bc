"""The RestoreSession controller over HTTP, its CompositeController manifest, and properties
that hold for any request: same bytes for the same request, observed children never dropped,
no Secret value in a response — also for half-written specs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hooks.app import create_app
from hooks.controllers import CONTROLLERS, restoresession
from tests.hooks.storage_side_bodies import (
    PLANTED_SECRET,
    assert_children_valid,
    assert_no_secret,
    assert_strict_keys,
    body,
    call,
)
from tests.hooks.test_restoresession import (
    CTRL,
    JOB_KINDS,
    NEWER,
    NEWER_ID,
    RESTORE_RESULT,
    first_job,
    observed,
    restore_session,
    snapshot,
    world,
)

MANIFEST = Path(__file__).resolve().parents[2] / "manifests" / "metacontroller"
DELETE = object()  # an edit that removes the field
FIRST_JOB = first_job()  # the Job of a valid first sync, observed in the job-state examples

# Spec fields a user may leave out or fill with the wrong kind of value while editing.
EDITABLE = [
    ("target",),
    ("target", "name"),
    ("target", "namespace"),
    ("dataSource",),
    ("dataSource", "repository"),
    ("dataSource", "snapshot"),
    ("dataSource", "namespace"),
    ("dataSource", "encryptionSecret"),
    ("dataSource", "encryptionSecret", "name"),
    ("dataSource", "pitr"),
    ("addon",),
    ("addon", "name"),
    ("addon", "tasks"),
    ("addon", "jobTemplate"),
    ("restoreTimeout",),
    ("timeout",),
]
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=10**6),
    st.sampled_from(["", "latest", "prod", "demo", "5m", "soon", "s3-repo", NEWER]),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["name", "x"]), st.text(max_size=4), max_size=2),
)
# Inside jobTemplate the hook checks each field's type; what a well-typed field holds is the
# API server's to judge when the Job is created, so these edits only change types.
TEMPLATE_FIELDS = [
    ("addon", "jobTemplate", "spec"),
    ("addon", "jobTemplate", "spec", "resources"),
    ("addon", "jobTemplate", "spec", "securityContext"),
    ("addon", "jobTemplate", "spec", "env"),
]
WRONG_TYPE = st.one_of(st.booleans(), st.integers(), st.text(max_size=4), st.just([1]))
EDITS = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(EDITABLE), st.one_of(st.just(DELETE), JUNK)),
        st.tuples(st.sampled_from(TEMPLATE_FIELDS), st.one_of(st.just(DELETE), WRONG_TYPE)),
    ),
    max_size=4,
)
WORLDS = st.sampled_from(["complete", "no-snapshots", "no-secrets", "cross-denied", "newer"])
JOB_STATES = st.sampled_from([None, "Running", "Complete", "Failed"])


def edited(spec: dict[str, Any], edits: list[tuple[tuple[str, ...], Any]]) -> dict[str, Any]:
    """``spec`` with each edit applied where its parent field is still a mapping."""
    result = copy.deepcopy(spec)
    for path, value in edits:
        holder: Any = result
        for key in path[:-1]:
            holder = holder.get(key) if isinstance(holder, dict) else None
        if not isinstance(holder, dict):
            continue
        if value is DELETE:
            holder.pop(path[-1], None)
        else:
            holder[path[-1]] = copy.deepcopy(value)
    return result


def related_world(name: str) -> list[dict[str, Any]]:
    if name == "no-snapshots":
        return world(snapshots=[])
    if name == "no-secrets":
        return [o for o in world() if o["kind"] != "Secret"]
    if name == "cross-denied":
        return world("prod", usage_from="Same")
    if name == "newer":
        return [*world(), snapshot(NEWER, NEWER_ID, "2026-11-25T11:00:00Z")]
    return world()


def request_for(edits: list, world_name: str, job_state: str | None) -> dict[str, Any]:
    parent = restore_session()
    parent["spec"]["addon"]["jobTemplate"] = {
        "spec": {"resources": {"limits": {"memory": "1Gi"}}, "securityContext": {"runAsUser": 0}}
    }
    parent["spec"] = edited(parent["spec"], edits)
    children: list[dict[str, Any]] = []
    related = related_world(world_name)
    if job_state is not None:
        job, *pods = observed(FIRST_JOB, job_state, RESTORE_RESULT)
        children, related = [job], [*related, *pods]
    return body(CTRL, parent, children, related, child_kinds=JOB_KINDS)


def child_names(objects: list[dict[str, Any]]) -> set[str]:
    return {o["metadata"]["name"] for o in objects}


@settings(max_examples=100, deadline=None)
@given(EDITS, WORLDS, JOB_STATES)
def test_property_any_spec_gives_a_stable_safe_response(edits, world_name, job_state) -> None:
    request = request_for(edits, world_name, job_state)
    response = call(restoresession, request)
    again = call(restoresession, copy.deepcopy(request))
    assert json.dumps(response, sort_keys=True) == json.dumps(again, sort_keys=True)
    assert_strict_keys(response)
    assert_children_valid(response)
    assert_no_secret(response)
    observed_children = list(request["children"]["Job.batch/v1"].values())
    assert child_names(observed_children) <= child_names(response["children"])
    assert len([c for c in response["children"] if c["kind"] == "Job"]) <= 1


@settings(max_examples=60, deadline=None)
@given(EDITS, WORLDS)
def test_property_an_invalid_spec_never_asks_for_a_job(edits, world_name) -> None:
    response = call(restoresession, request_for(edits, world_name, None))
    if response["status"]["phase"] == "Invalid":
        assert response["children"] == []
        [validation] = [
            c for c in response["status"]["conditions"] if c["type"] == "ValidationPassed"
        ]
        assert validation["status"] == "False"
        assert validation["message"].startswith(("spec.", "Repository ", "RestoreSession "))


def test_same_request_gives_byte_identical_http_response() -> None:
    client = create_app().test_client()
    request = request_for([], "complete", "Running")
    first = client.post("/sync/restoresession", json=request)
    second = client.post("/sync/restoresession", json=copy.deepcopy(request))
    assert first.status_code == 200
    assert first.data == second.data
    assert PLANTED_SECRET.encode() not in first.data


def test_customize_is_served_over_http() -> None:
    client = create_app().test_client()
    response = client.post(
        "/customize/restoresession", json={"controller": CTRL, "parent": restore_session()}
    )
    assert response.status_code == 200
    assert set(response.get_json()) == {"relatedResources"}


def test_manifest_uses_hooks_v2_on_registered_routes() -> None:
    manifest = yaml.safe_load((MANIFEST / "restoresession.yaml").read_text())
    assert manifest["kind"] == "CompositeController"
    assert manifest["spec"]["parentResource"] == {
        "apiVersion": "core.kubestash.com/v1alpha1",
        "resource": "restoresessions",
    }
    hooks = manifest["spec"]["hooks"]
    assert set(hooks) == {"sync", "customize"}
    for hook in hooks.values():
        assert hook["version"] == "v2"
        route, name = hook["webhook"]["path"].strip("/").split("/")
        assert CONTROLLERS[name] is restoresession
        assert hasattr(restoresession, route)
    assert manifest["spec"]["childResources"] == [
        {"apiVersion": "batch/v1", "resource": "jobs", "updateStrategy": {"method": "OnDelete"}}
    ]
