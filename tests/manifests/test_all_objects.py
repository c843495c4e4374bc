"""Every object under manifests/ and examples/ is valid: built-in kinds strictly against the
official Kubernetes schemas (1.29 and the newest kubernetes-validate ships), our kinds against
our schemas, everything else (Metacontroller, KubeDB, …) at least for apiVersion/kind/name."""

import kubernetes_validate
import pytest
from kubernetes_validate.utils import SchemaNotFoundError, latest_version

from schemas.registry import kind_for
from schemas.validation import validate, validate_document
from tests.manifests.objects import all_objects

OLDEST_SUPPORTED = "1.29"
VERSIONS = (OLDEST_SUPPORTED, latest_version())
OBJECTS = all_objects()


def is_builtin(obj: dict) -> bool:
    """True when the official Kubernetes schemas know this apiVersion/kind."""
    try:
        kubernetes_validate.validate(obj, latest_version(), strict=False)
    except SchemaNotFoundError:
        return False
    except kubernetes_validate.ValidationError:
        return True
    return True


BUILTIN = [(where, obj) for where, obj in OBJECTS if is_builtin(obj)]
OURS = [(where, obj) for where, obj in OBJECTS if kind_for(obj["apiVersion"], obj["kind"])]
OTHER = [
    (where, obj)
    for where, obj in OBJECTS
    if not is_builtin(obj) and not kind_for(obj["apiVersion"], obj["kind"])
]


def test_discovery_finds_the_crds_and_the_examples():
    kinds = {obj["kind"] for _, obj in OBJECTS}
    assert {"CustomResourceDefinition", "Namespace", "Secret", "BackupConfiguration"} <= kinds


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("where", "obj"), BUILTIN, ids=[w for w, _ in BUILTIN])
def test_builtin_object_is_strictly_valid_kubernetes(where, obj, version):
    assert kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize(("where", "obj"), OURS, ids=[w for w, _ in OURS])
def test_object_of_our_kinds_is_valid(where, obj):
    assert [str(p) for p in validate(obj)] == []


@pytest.mark.parametrize(("where", "obj"), OTHER, ids=[w for w, _ in OTHER])
def test_object_of_other_groups_has_kind_and_name(where, obj):
    assert [str(p) for p in validate_document(obj)] == []
