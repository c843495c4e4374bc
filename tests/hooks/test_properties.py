"""Properties of every response: deterministic bytes, no lost children on bad specs, no secrets."""

import copy
import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hooks.controllers import backupconfiguration
from hooks.protocol import parse_request
from tests.hooks import world
from tests.hooks.checks import check_response

RELATED = [
    world.namespace(),
    world.appbinding(),
    world.backup_storage(),
    world.retention_policy(),
    *world.catalog(),
    *world.planted_secrets(),
]


def respond(parent, children):
    body = world.sync_body("backupconfiguration", parent, children, RELATED)
    return backupconfiguration.sync(parse_request(body))


def settled(parent):
    children = []
    for _ in range(3):
        response = respond(parent, children)
        children = [
            world.observed(c, phase="Ready") if c["kind"] == "Repository" else world.observed(c)
            for c in response["children"]
        ]
        parent = {**parent, "status": response["status"]}
    return parent, children


configurations = st.builds(
    lambda sessions, repos, paused: world.backup_configuration(
        sessions=[
            world.session(f"s{i}", [(f"r{i}-{j}", "s3-backend") for j in range(repos)])
            for i in range(sessions)
        ],
        paused=paused,
    ),
    st.integers(1, 3),
    st.integers(1, 2),
    st.booleans(),
)


@settings(max_examples=25, deadline=None)
@given(configurations)
def test_same_request_gives_byte_identical_response(parent):
    parent, children = settled(parent)
    first = json.dumps(respond(parent, children), sort_keys=True)
    again = json.dumps(respond(copy.deepcopy(parent), copy.deepcopy(children)), sort_keys=True)
    assert first == again


def _paths(value, prefix=()):
    """Every path into the spec, to break one of them."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


GARBAGE = st.sampled_from([None, 17, "", "not a list", [], {"unexpected": True}, -1, 2.5])
BASE_PARENT, BASE_CHILDREN = settled(
    world.backup_configuration(
        sessions=[
            world.session("s0", [("r0", "s3-backend")]),
            world.session("s1", [("r1", "s3-backend")]),
        ]
    )
)
SPEC_PATHS = [p for p in _paths(BASE_PARENT["spec"]) if p]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SPEC_PATHS), GARBAGE, st.booleans())
@example(("target", "name"), "", False)
@example(("backends",), 17, False)
def test_broken_spec_never_returns_fewer_children_than_observed(path, garbage, delete):
    parent = copy.deepcopy(BASE_PARENT)
    holder = parent["spec"]
    for key in path[:-1]:
        holder = holder[key]
    if delete:
        del holder[path[-1]]
    else:
        holder[path[-1]] = garbage
    response = respond(parent, BASE_CHILDREN)
    check_response(response)
    observed = {(c["kind"], c["metadata"]["name"]) for c in BASE_CHILDREN}
    returned = {(c["kind"], c["metadata"]["name"]) for c in response["children"]}
    if response["status"]["phase"] == "Invalid":
        assert returned == observed
    else:
        # the change was a valid spec after all (e.g. an optional field removed)
        assert response["status"]["phase"] in ("Ready", "NotReady")
