"""Bad input against every hook, through the real Flask app: valid request bodies (as the
tests/hooks worlds build them, with the children a first sync asked for already observed) are
mutated by hypothesis, and every answer must keep the promises of DESIGN §3:

- a user's mistake (anything in a custom resource's ``spec``, the parent's or a related one's)
  is never a 5xx; when it makes the parent's spec invalid the status says so in a condition whose
  message names the field (the path ``schemas.validation`` reports) — for the AppBinding a
  decorator watches, whose status is KubeDB's, the log says so instead;
- a shape Metacontroller or the API server could never send (junk where ``metadata``, a group
  map or a Job status belongs) may be refused with 400 or 500, which keep every child;
- a 200 never lists fewer children than were observed when the parent's spec did not change, or
  when it became invalid.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from hooks.app import create_app
from schemas.defaults import with_defaults
from schemas.problems import field_path
from schemas.registry import kinds
from schemas.validation import validate
from tests.hooks import storage_side_bodies as side
from tests.hooks import world
from tests.hooks.test_backupblueprint import BLUEPRINT, annotated
from tests.hooks.test_repository import backup_configuration as repository_invoker
from tests.hooks.test_repository import backup_session as repository_session
from tests.hooks.test_restoresession import restore_session
from tests.hooks.test_restoresession import world as restore_world
from tests.hooks.test_snapshot import backup_objects, common_related
from tests.hooks.test_snapshot import parent as snapshot_parent

Body = dict[str, Any]
Path = tuple[str | int, ...]
CORE = "core.kubestash.com/v1alpha1"
STORAGE = "storage.kubestash.com/v1alpha1"


# ----------------------------------------------------------------------------- valid bodies


def _backupstorage() -> Body:
    ctrl = side.controller("backupstorage", "backupstorages", STORAGE)
    related = [side.planted_secret("s3-secret"), *side.catalog()]
    return side.body(ctrl, side.storage(), related=related, child_kinds=["Job.batch/v1"])


def _backupconfiguration() -> Body:
    related = [
        world.namespace(),
        world.appbinding(),
        world.backup_storage(),
        world.retention_policy(),
        *world.catalog(),
        *world.planted_secrets(),
    ]
    return world.sync_body("backupconfiguration", world.backup_configuration(), [], related)


def _backupsession() -> Body:
    session = {
        "apiVersion": CORE,
        "kind": "BackupSession",
        "metadata": {
            "name": "sample-zookeeper-backup-frequent-backup-1726572962",
            "namespace": world.NS,
            "uid": "uid-bs",
            "generation": 1,
            "creationTimestamp": "2024-09-17T11:36:02Z",
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
    repository = {
        "apiVersion": STORAGE,
        "kind": "Repository",
        "metadata": {"name": "s3-zookeeper-repo", "namespace": world.NS},
        "spec": {
            "appRef": {"apiGroup": "kubedb.com", "kind": "ZooKeeper", "name": "sample-zookeeper"},
            "storageRef": {"name": "s3-storage", "namespace": world.NS},
            "path": "/s3-zookeeper-repo",
            "encryptionSecret": {"name": "encrypt-secret", "namespace": world.NS},
        },
        "status": {"phase": "Ready"},
    }
    related = [
        world.backup_configuration(status={"phase": "Ready"}),
        world.appbinding(),
        world.backup_storage(),
        repository,
        *world.catalog(),
        *world.planted_secrets(),
    ]
    return world.sync_body("backupsession", session, [], related)


def _repository() -> Body:
    ctrl = side.controller("repository", "repositories", STORAGE)
    related = [
        side.storage(),
        repository_invoker(),
        repository_session(1764064801),
        side.planted_secret("s3-secret"),
        *side.catalog(),
    ]
    kinds = ["Job.batch/v1", "Snapshot.storage.kubestash.com/v1alpha1"]
    return side.body(ctrl, side.repository(), related=related, child_kinds=kinds)


def _snapshot() -> Body:
    ctrl = side.controller("snapshot", "snapshots", STORAGE)
    related = [*backup_objects("Running"), *common_related()]
    return side.body(
        ctrl, snapshot_parent("WipeOut"), related=related, child_kinds=["Job.batch/v1"]
    )


def _restoresession() -> Body:
    ctrl = side.controller("restoresession", "restoresessions", CORE)
    return side.body(ctrl, restore_session(), related=restore_world(), child_kinds=["Job.batch/v1"])


def _backupblueprint() -> Body:
    related = [world.namespace(), *world.planted_secrets(), copy.deepcopy(BLUEPRINT)]
    return world.sync_body("backupblueprint", annotated(), [], related, kind="DecoratorController")


BUILDERS: dict[str, Callable[[], Body]] = {
    "backupstorage": _backupstorage,
    "backupconfiguration": _backupconfiguration,
    "backupsession": _backupsession,
    "repository": _repository,
    "snapshot": _snapshot,
    "restoresession": _restoresession,
    "backupblueprint": _backupblueprint,
}


def parent_key(body: Body) -> str:
    return "object" if "object" in body else "parent"


def children_key(body: Body) -> str:
    return "attachments" if "attachments" in body else "children"


def post(client: FlaskClient, controller: str, body: Any) -> tuple[int, Any]:
    """POST a body to the sync hook the way Metacontroller does; status and decoded JSON."""
    response = client.post(
        f"/sync/{controller}", data=json.dumps(body), content_type="application/json"
    )
    return response.status_code, response.get_json(silent=True)


def with_observed_children(client: FlaskClient, controller: str, body: Body) -> Body:
    """The body of the next sync: what the first sync asked for is now observed (as applied)."""
    response = client.post(
        f"/sync/{controller}", data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 200, (controller, response.get_data(as_text=True))
    answer = response.get_json()
    settled = copy.deepcopy(body)
    grouped: dict[str, dict[str, Any]] = {}
    for child in answer[children_key(body)]:
        observed = world.observed(child)
        meta = observed["metadata"]
        grouped.setdefault(f"{child['kind']}.{child['apiVersion']}", {})[
            f"{meta['namespace']}/{meta['name']}"
        ] = observed
    settled[children_key(body)] = {**settled.get(children_key(body), {}), **grouped}
    if answer.get("status") is not None:
        settled[parent_key(body)]["status"] = answer["status"]
    return settled


@dataclass
class Bases:
    """Each controller's valid body with observed children, built on first use and kept.

    Built per controller, inside the test that needs it: a body that cannot be built fails
    that controller's tests, with the hook's answer, rather than erroring every test of the
    module at setup.
    """

    client: FlaskClient
    built: dict[str, Body] = field(default_factory=dict)

    def __getitem__(self, controller: str) -> Body:
        if controller not in self.built:
            body = BUILDERS[controller]()
            self.built[controller] = with_observed_children(self.client, controller, body)
        return self.built[controller]


@pytest.fixture(scope="module")
def client() -> Iterator[FlaskClient]:
    with create_app().test_client() as test_client:
        yield test_client


@pytest.fixture(scope="module")
def bases(client: FlaskClient) -> Bases:
    """Each controller's valid body with observed children (built once per module)."""
    return Bases(client)


# ----------------------------------------------------------------------------- mutations


def paths(value: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every path into a JSON value (the value itself first)."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for level in range(depth):
        value = [value] if level % 2 else {"deeper": value}
    return value


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.text(alphabet=st.characters(min_codepoint=0x80, max_codepoint=0x10FFFF), max_size=10),
    st.just("z" * 300_000),
    st.just(nested(200)),
    st.recursive(
        st.none() | st.integers() | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=8,
    ),
)


def mutate(body: Body, where: Path, replacement: Any, delete: bool) -> Body:
    """A copy of the body with the value at `where` deleted or replaced."""
    mutated = copy.deepcopy(body)
    holder: Any = mutated
    for key in where[:-1]:
        holder = holder[key]
    if delete and isinstance(holder, dict):
        holder.pop(where[-1], None)
    else:
        holder[where[-1]] = replacement
    return mutated


def spec_paths(body: Body) -> list[Path]:
    """Paths into every custom resource spec of the body: the user's own input."""
    spec = body[parent_key(body)].get("spec", {})
    found = [(parent_key(body), "spec", *p) for p in paths(spec)]
    for group_key, group in body["related"].items():
        if not group_key.endswith(("kubestash.com/v1alpha1", "appscode.com/v1alpha1")):
            continue
        for name, obj in group.items():
            found += [("related", group_key, name, "spec", *p) for p in paths(obj.get("spec", {}))]
    return found


def shape_paths(body: Body) -> list[Path]:
    """Paths whose shape the API server or Metacontroller fixes: request envelope, metadata,
    child and related object envelopes and statuses."""
    found: list[Path] = [("controller",), (parent_key(body),), (children_key(body),), ("related",)]
    found += [(parent_key(body), "apiVersion"), (parent_key(body), "kind")]
    found += [(parent_key(body), "metadata", *p) for p in paths(body[parent_key(body)]["metadata"])]
    found += [(parent_key(body), "status", *p) for p in paths(body[parent_key(body)].get("status"))]
    for outer in (children_key(body), "related"):
        for group_key, group in body[outer].items():
            found.append((outer, group_key))
            for name, obj in group.items():
                found += [(outer, group_key, name, *p) for p in paths(obj) if "spec" not in p[:1]]
    return found


def observed_children(body: Body) -> set[tuple[str, str]]:
    return {
        (str(obj.get("kind")), str((obj.get("metadata") or {}).get("name")))
        for group in body[children_key(body)].values()
        for obj in group.values()
    }


def returned_children(answer: Any, body: Body) -> set[tuple[str, str]]:
    return {(c["kind"], c["metadata"]["name"]) for c in answer[children_key(body)]}


def spec_problems(body: Body) -> list[str]:
    """What schemas.validation finds wrong with the parent (paths like spec.sessions[0].name)."""
    parent = body[parent_key(body)]
    if not isinstance(parent, dict):
        return []
    try:
        defaulted = with_defaults(parent)
    except Exception:
        defaulted = parent
    checked = {k: defaulted.get(k) for k in ("apiVersion", "kind", "spec")}
    checked["metadata"] = {
        k: v for k, v in (parent.get("metadata") or {}).items() if k in ("name", "namespace")
    }
    return [p.path for p in validate(checked)]


def status_messages(answer: Any) -> list[str]:
    status = answer.get("status") or {}
    return [str(c.get("message")) for c in status.get("conditions") or () if isinstance(c, dict)]


@dataclass
class Counter:
    """How many generated inputs a test ran (the report's `cases`)."""

    n: int = 0


def type_problems(body: Body) -> list[str]:
    """Paths where the decorated AppBinding breaks its CRD schema's types or leaves out a
    required field (unknown fields are KubeDB's business, not ours)."""
    parent = body[parent_key(body)]
    schema = kinds()[("appcatalog.appscode.com/v1alpha1", "AppBinding")].object_schema
    checked = {k: parent.get(k) for k in ("apiVersion", "kind", "spec") if k in parent}
    found = []
    for error in Draft202012Validator(schema).iter_errors(checked):
        where = list(error.absolute_path)
        if error.validator == "required":
            found += [field_path([*where, name]) for name in error.validator_value]
        else:
            found.append(field_path(where))
    return found


# ----------------------------------------------------------------------------- the tests

CONTROLLERS = sorted(BUILDERS)
COMPOSITE = [name for name in CONTROLLERS if name != "backupblueprint"]
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.reliability("Bad input: custom resources", "mutated spec of the parent, every hook")
@pytest.mark.parametrize("controller", COMPOSITE)
def test_a_broken_parent_spec_is_answered_with_a_condition_naming_the_field(
    controller: str,
    client: FlaskClient,
    bases: Bases,
    record_property: Callable[[str, Any], None],
) -> None:
    base = bases[controller]
    choices = [p for p in spec_paths(base) if p[0] in ("parent", "object")]
    count = Counter()

    @SETTINGS
    @given(st.sampled_from(choices), JUNK, st.booleans())
    def check(where: Path, junk: Any, delete: bool) -> None:
        count.n += 1
        body = mutate(base, where, junk, delete)
        status, answer = post(client, controller, body)
        assert status == 200, (where, answer)
        problems = spec_problems(body)
        if problems:
            messages = status_messages(answer)
            assert any(p in m for p in problems for m in messages), (where, problems, messages)
            assert returned_children(answer, body) >= observed_children(body), where

    check()
    record_property("cases", count.n)


@pytest.mark.reliability("Bad input: custom resources", "mutated spec of the decorated AppBinding")
def test_a_broken_appbinding_keeps_the_attachment_and_the_log_names_the_field(
    client: FlaskClient,
    bases: Bases,
    caplog: pytest.LogCaptureFixture,
    record_property: Callable[[str, Any], None],
) -> None:
    base = bases["backupblueprint"]
    choices = [p for p in spec_paths(base) if p[0] == "object"]
    count = Counter()

    @SETTINGS
    @given(st.sampled_from(choices), JUNK, st.booleans())
    def check(where: Path, junk: Any, delete: bool) -> None:
        count.n += 1
        caplog.clear()
        body = mutate(base, where, junk, delete)
        with caplog.at_level(logging.WARNING, logger="zkstash.hooks"):
            status, answer = post(client, "backupblueprint", body)
        assert status == 200, (where, answer)
        # The attachment's name comes from the AppBinding's name, never from its spec.
        assert returned_children(answer, body) >= observed_children(body), where
        problems = type_problems(body)
        if problems:
            logged = [r.getMessage() for r in caplog.records]
            assert any(p in m for p in problems for m in logged), (where, problems, logged)

    check()
    record_property("cases", count.n)


@pytest.mark.reliability(
    "Bad input: custom resources", "mutated spec of a related resource, every hook"
)
@pytest.mark.parametrize("controller", CONTROLLERS)
def test_a_broken_related_spec_is_never_a_crash_and_keeps_every_child(
    controller: str,
    client: FlaskClient,
    bases: Bases,
    record_property: Callable[[str, Any], None],
) -> None:
    base = bases[controller]
    choices = [p for p in spec_paths(base) if p[0] == "related"]
    count = Counter()

    @SETTINGS
    @given(st.sampled_from(choices), JUNK, st.booleans())
    def check(where: Path, junk: Any, delete: bool) -> None:
        count.n += 1
        body = mutate(base, where, junk, delete)
        status, answer = post(client, controller, body)
        assert status == 200, (where, answer)
        # The parent's own spec did not change, so nothing it had may be deleted.
        assert returned_children(answer, body) >= observed_children(body), where

    check()
    record_property("cases", count.n)


@pytest.mark.reliability("Bad input: hook requests", "junk in request envelope, metadata, status")
@pytest.mark.parametrize("controller", CONTROLLERS)
def test_a_request_metacontroller_could_never_send_is_refused_or_keeps_every_child(
    controller: str,
    client: FlaskClient,
    bases: Bases,
    record_property: Callable[[str, Any], None],
) -> None:
    base = bases[controller]
    choices = shape_paths(base)
    count = Counter()

    @SETTINGS
    @given(st.sampled_from(choices), JUNK, st.booleans())
    def check(where: Path, junk: Any, delete: bool) -> None:
        count.n += 1
        body = mutate(base, where, junk, delete)
        status, answer = post(client, controller, body)
        assert status in (200, 400, 500), status
        if status == 200:
            assert isinstance(answer, dict)
            if where[:2] == (parent_key(body), "status"):
                # a stale or odd status of the parent itself never costs a child
                assert returned_children(answer, body) >= observed_children(body), where

    check()
    record_property("cases", count.n)


@pytest.mark.reliability("Bad input: hook requests", "body not JSON / not an object")
@pytest.mark.parametrize("controller", CONTROLLERS)
@pytest.mark.parametrize(
    "raw", [b"", b"{", b"[]", b"null", b"17", b'"text"', "\u00e9\x00".encode()]
)
def test_a_body_that_is_not_a_json_object_gets_400(
    controller: str, raw: bytes, client: FlaskClient
) -> None:
    response = client.post(f"/sync/{controller}", data=raw, content_type="application/json")
    assert response.status_code == 400
    assert response.mimetype == "text/plain"
