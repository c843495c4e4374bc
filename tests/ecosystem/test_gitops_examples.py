"""The Argo CD Applications and the Flux Kustomizations a user copies: they point at paths that
exist, and every zkstash kind they name is one we serve."""

from typing import Any

import yaml

from schemas.registry import kind_for
from tests.ecosystem.images import REPO

APPLICATIONS = REPO / "manifests" / "argocd" / "applications.yaml"
FLUX = REPO / "manifests" / "flux" / "zookeeper-backups.yaml"


def documents(path: Any) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_zkstash_application_installs_the_release_overlay() -> None:
    (zkstash,) = [d for d in documents(APPLICATIONS) if d["metadata"]["name"] == "zkstash"]
    assert (REPO / zkstash["spec"]["source"]["path"] / "kustomization.yaml").is_file()


def test_backups_application_syncs_after_zkstash_and_never_prunes() -> None:
    apps = {d["metadata"]["name"]: d for d in documents(APPLICATIONS)}
    waves = {
        n: int(a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
        for n, a in apps.items()
    }
    assert waves["zookeeper-backups"] > waves["zkstash"]
    assert apps["zookeeper-backups"]["spec"]["syncPolicy"]["automated"]["prune"] is False


def test_flux_installs_the_release_overlay_before_the_backups() -> None:
    kustomizations = {
        d["metadata"]["name"]: d for d in documents(FLUX) if d["kind"] == "Kustomization"
    }
    assert (REPO / kustomizations["zkstash"]["spec"]["path"] / "kustomization.yaml").is_file()
    assert kustomizations["zookeeper-backups"]["spec"]["dependsOn"] == [{"name": "zkstash"}]
    assert kustomizations["zookeeper-backups"]["spec"]["prune"] is False


def test_flux_health_checks_name_served_kinds_with_a_rule_each() -> None:
    (backups,) = [d for d in documents(FLUX) if d["metadata"]["name"] == "zookeeper-backups"]
    rules = {(e["apiVersion"], e["kind"]) for e in backups["spec"]["healthCheckExprs"]}
    checked = {(c["apiVersion"], c["kind"]) for c in backups["spec"]["healthChecks"]}
    assert all(kind_for(api, kind) for api, kind in rules | checked)
    assert checked <= rules
    with_status = {
        "BackupStorage",
        "Repository",
        "BackupConfiguration",
        "BackupSession",
        "RestoreSession",
    }
    assert {kind for _, kind in rules} == with_status
