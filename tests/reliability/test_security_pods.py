"""Least privilege: RBAC per Job kind and the "restricted" Pod Security profile for every pod
template — the installed manifests (``kubectl kustomize``), a Job from every shipped Function,
and every Job, CronJob and Pod the hooks produce in a whole flow on the stand-in.

Rules: the trigger may only create BackupSessions in its own namespace; backup, restore, init
and cleanup Jobs mount no ServiceAccount token; the hooks server has no rights and no token.
The local provider's storage volume is a hostPath (the one exception: such pods cannot run
under ``enforce: restricted``; docs/install.md says so).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient

from hooks import jobs
from hooks.controllers import backupconfiguration
from hooks.protocol import parse_request
from tests.e2e import objects
from tests.e2e.flow import NS, REPO, apply_backup_setup, next_session
from tests.ecosystem.kustomize import build
from tests.hooks import world
from tests.infra.zookeeper import SUPER_PASSWORD, SUPER_USER, ZooKeeperServer
from tests.reliability.pod_security import host_path_volumes, pod_specs, restricted_violations
from tests.standin import zktree
from tests.standin.kubectl import Kubectl
from tests.standin.standin import Standin

ROOT = Path(__file__).resolve().parents[2]
TRIGGER_RULES = [
    {"apiGroups": ["core.kubestash.com"], "resources": ["backupsessions"], "verbs": ["create"]}
]


def manifest_objects() -> list[dict[str, Any]]:
    """What `kubectl apply -k` installs: the base, the release overlay and monitoring."""
    return [
        *build(ROOT / "manifests"),
        *build(ROOT / "manifests" / "overlays" / "release"),
        *build(ROOT / "manifests" / "monitoring"),
    ]


def catalog_functions() -> list[dict[str, Any]]:
    return [d for d in world.catalog() if d["kind"] == "Function"]


def function_job(function: dict[str, Any]) -> dict[str, Any]:
    """The Job the hooks build for a Function, every placeholder given a value."""
    placeholders = re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_.-]*)", " ".join(function["spec"]["args"]))
    return jobs.executor_job(
        jobs.JobRequest(
            prefix="test",
            owner_name="owner",
            namespace=NS,
            component="test",
            labels={},
            function=function,
            values=dict.fromkeys(placeholders, "value"),
        )
    )


def backupconfiguration_children() -> list[dict[str, Any]]:
    """The BackupConfiguration hook's first answer: Repository, CronJob, ServiceAccount, RBAC."""
    related = [
        world.namespace(),
        world.appbinding(),
        world.backup_storage(),
        world.retention_policy(),
        *world.catalog(),
    ]
    body = world.sync_body("backupconfiguration", world.backup_configuration(), [], related)
    return backupconfiguration.sync(parse_request(body))["children"]


# ----------------------------------------------------------------------------- manifests


@pytest.mark.reliability("Security: RBAC and pod security", "manifests: every pod template")
def test_every_pod_template_in_the_manifests_is_restricted() -> None:
    specs = [(where, spec) for obj in manifest_objects() for where, spec in pod_specs(obj)]
    assert [where for where, _ in specs] == ["Deployment zkstash/zkstash-hooks"] * 2
    assert [v for where, spec in specs for v in restricted_violations(spec, where)] == []


@pytest.mark.reliability("Security: RBAC and pod security", "manifests: the trigger's only right")
def test_trigger_cluster_role_only_creates_backup_sessions_and_is_bound_nowhere() -> None:
    installed = manifest_objects()
    roles = {o["metadata"]["name"]: o for o in installed if o["kind"] in ("ClusterRole", "Role")}
    assert roles["zkstash-trigger"]["rules"] == TRIGGER_RULES
    # bound per BackupConfiguration by a namespaced RoleBinding only, never cluster-wide
    assert [o for o in installed if o["kind"] in ("ClusterRoleBinding", "RoleBinding")] == []


@pytest.mark.reliability(
    "Security: RBAC and pod security", "manifests: the hooks server has no API access"
)
def test_hooks_server_has_no_token_and_no_rights() -> None:
    installed = manifest_objects()
    (account,) = {
        o["metadata"]["name"]: o for o in installed if o["kind"] == "ServiceAccount"
    }.values()
    assert account["metadata"]["name"] == "zkstash-hooks"
    assert account["automountServiceAccountToken"] is False
    deployment = next(o for o in installed if o["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert (pod["serviceAccountName"], pod["automountServiceAccountToken"]) == (
        "zkstash-hooks",
        False,
    )


@pytest.mark.reliability(
    "Security: RBAC and pod security", "manifests: monitoring role is read-only"
)
def test_monitoring_role_only_reads() -> None:
    role = next(o for o in build(ROOT / "manifests" / "monitoring") if o["kind"] == "ClusterRole")
    assert {verb for rule in role["rules"] for verb in rule["verbs"]} == {"list", "watch"}


# ----------------------------------------------------------------------------- hooks' Jobs


@pytest.mark.reliability("Security: RBAC and pod security", "a Job from every shipped Function")
@pytest.mark.parametrize("function", catalog_functions(), ids=lambda f: f["metadata"]["name"])
def test_job_of_every_function_is_restricted_and_only_the_trigger_gets_a_token(
    function: dict[str, Any],
) -> None:
    job = function_job(function)
    ((where, spec),) = pod_specs(job)
    assert restricted_violations(spec, where) == []
    is_trigger = function["metadata"]["name"] == jobs.FUNCTION_TRIGGER
    assert ("automountServiceAccountToken" not in spec) is is_trigger
    if not is_trigger:
        assert spec["automountServiceAccountToken"] is False


@pytest.mark.reliability("Security: RBAC and pod security", "a Job template may ask for a token")
def test_job_template_may_turn_the_token_on_for_a_cloud_identity() -> None:
    function = next(f for f in catalog_functions() if f["metadata"]["name"] == "zookeeper-backup")
    job = jobs.executor_job(
        jobs.JobRequest(
            prefix="backup",
            owner_name="owner",
            namespace=NS,
            component="dump",
            labels={},
            function=function,
            values={"zookeeper": "zk:2181", "session": "s", "repository": "r"},
            pod_template={
                "spec": {
                    "serviceAccountName": "workload-identity",
                    "automountServiceAccountToken": True,
                }
            },
        )
    )
    spec = job["spec"]["template"]["spec"]
    assert (spec["serviceAccountName"], spec["automountServiceAccountToken"]) == (
        "workload-identity",
        True,
    )


@pytest.mark.reliability(
    "Security: RBAC and pod security", "trigger RBAC: a RoleBinding in its namespace"
)
def test_trigger_is_bound_in_its_own_namespace_to_create_sessions_only() -> None:
    children = {(c["kind"]): c for c in backupconfiguration_children()}
    binding, account, cronjob = (
        children["RoleBinding"],
        children["ServiceAccount"],
        children["CronJob"],
    )
    assert binding["metadata"]["namespace"] == world.NS
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "zkstash-trigger",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": world.NS}
    ]
    ((where, spec),) = pod_specs(cronjob)
    assert spec["serviceAccountName"] == account["metadata"]["name"]
    assert restricted_violations(spec, where) == []
    assert "ClusterRoleBinding" not in children


# ----------------------------------------------------------------------------- a whole flow


@pytest.mark.reliability("Security: RBAC and pod security", "every Job, CronJob and Pod of a flow")
def test_every_pod_the_hooks_make_in_a_backup_and_restore_flow_is_restricted(
    cluster: Standin,
    kubectl: Kubectl,
    zookeeper: ZooKeeperServer,
    zk_client: KazooClient,
    zk_root: str,
    backup_dir: Path,
    restore_hosts: str,
) -> None:
    zktree.seed(zk_client, zk_root, SUPER_USER, SUPER_PASSWORD)
    apply_backup_setup(kubectl, zookeeper, backup_dir, root=zk_root)
    kubectl.wait_for("Repository", NS, REPO, "Ready", timeout=60)
    session = next_session(cluster, kubectl, [])
    kubectl.wait_for("BackupSession", NS, session, "Succeeded", timeout=90)
    kubectl.apply(
        [
            objects.appbinding(NS, "restored-zookeeper", restore_hosts),
            objects.restore_session(NS, "restored-zookeeper", REPO),
        ]
    )
    kubectl.wait_for("RestoreSession", NS, "sample-zookeeper-restore", "Succeeded", timeout=90)

    made = [o for kind in ("Job", "CronJob", "Pod") for o in kubectl.objects(kind, NS)]
    specs = [(where, spec) for obj in made for where, spec in pod_specs(obj)]
    kinds = {where.split()[0] for where, _ in specs}
    assert kinds == {"Job", "CronJob", "Pod"} and len(specs) >= 7
    # the local provider's storage volume is the one hostPath allowed (and documented)
    problems = [
        v
        for where, spec in specs
        for v in restricted_violations(spec, where, allow_host_path=host_path_volumes(spec))
    ]
    assert problems == []
    for where, spec in specs:
        assert all(
            v["hostPath"]["path"] == str(backup_dir)
            for v in spec.get("volumes", ())
            if "hostPath" in v
        ), where
        uses_api = where.startswith(("CronJob", f"Job {NS}/trigger-", f"Pod {NS}/trigger-"))
        assert spec.get("automountServiceAccountToken", True) is uses_api, where


@pytest.mark.reliability("Security: RBAC and pod security", "the profile check names each breach")
def test_profile_check_names_every_breach_of_a_root_hostpath_pod() -> None:
    spec = {
        "hostNetwork": True,
        "securityContext": {"runAsUser": 0},
        "volumes": [{"name": "host", "hostPath": {"path": "/"}}, {"name": "tmp", "emptyDir": {}}],
        "containers": [{"name": "c", "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}],
    }
    assert restricted_violations(spec, "Pod x/y") == [
        "Pod x/y: spec.hostNetwork is true",
        "Pod x/y: spec.volumes[host] is ['hostPath']",
        "Pod x/y: spec.securityContext.runAsUser is 0",
        "Pod x/y: spec.containers[c].securityContext.allowPrivilegeEscalation is not false",
        "Pod x/y: spec.containers[c].securityContext.readOnlyRootFilesystem is not true",
        "Pod x/y: spec.containers[c].securityContext.runAsNonRoot is not true (nor the pod's)",
        "Pod x/y: spec.containers[c].securityContext.seccompProfile.type is None (nor the pod's)",
        "Pod x/y: spec.containers[c].securityContext.capabilities.drop lacks ALL",
        "Pod x/y: spec.containers[c].securityContext.capabilities.add has ['SYS_ADMIN']",
    ]
    assert restricted_violations(spec, "Pod x/y", allow_host_path=frozenset({"host"}))[1] == (
        "Pod x/y: spec.securityContext.runAsUser is 0"
    )
