"""Monitoring: the PrometheusRule passes promtool (syntax and unit tests with series), every
metric an alert or the dashboard reads is one that kube-state-metrics (with our config), the
hooks server or the rules themselves define, and every field the config reads exists in our
kinds' schemas.
"""

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from hooks import metrics as hook_metrics
from schemas.registry import kind_for
from tests.ecosystem.images import REPO
from tests.ecosystem.kustomize import build

MONITORING = REPO / "manifests" / "monitoring"
PROMETHEUS_RULE = MONITORING / "prometheusrule.yaml"
KSM_CONFIG = MONITORING / "kube-state-metrics.yaml"
DASHBOARD = MONITORING / "grafana-dashboard.json"
ALERT_TESTS = Path(__file__).with_name("alerts_test.yaml")
# kube-state-metrics' own CronJob metrics (docs/metrics/workload/cronjob-metrics.md upstream).
KSM_BUILTIN = {"kube_cronjob_next_schedule_time", "kube_cronjob_status_last_schedule_time"}
METADATA_FIELDS = {"name", "namespace", "creationTimestamp"}
METRIC_NAME = re.compile(r"\b(?:zkstash[_:]|kube_)[a-zA-Z0-9_:]+")
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
}


def rule_groups() -> list[dict[str, Any]]:
    return yaml.safe_load(PROMETHEUS_RULE.read_text())["spec"]["groups"]


def rules() -> list[dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"]]


def ksm_resources() -> list[dict[str, Any]]:
    return yaml.safe_load(KSM_CONFIG.read_text())["spec"]["resources"]


def ksm_metric_names() -> set[str]:
    return {f"{r['metricNamePrefix']}_{m['name']}" for r in ksm_resources() for m in r["metrics"]}


def hook_metric_names() -> set[str]:
    """Series names the hooks server's /metrics exposes for its collectors."""
    names = set()
    for collector in (hook_metrics.SYNCS, hook_metrics.ERRORS, hook_metrics.LATENCY):
        for family in collector.collect():
            names |= {family.name + suffix for suffix in SUFFIXES[family.type]}
    return names


def defined_metric_names() -> set[str]:
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    return ksm_metric_names() | hook_metric_names() | recorded | KSM_BUILTIN


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]


def schema_at(schema: dict[str, Any], path: list[str]) -> dict[str, Any] | None:
    """The sub-schema PATH leads to (a list index steps into `items`); None if it is absent."""
    node: dict[str, Any] | None = schema
    for segment in path:
        if node is None:
            return None
        if node.get("type") == "array" and segment.isdigit():
            node = node.get("items")
        else:
            node = node.get("properties", {}).get(segment)
    return node


def config_paths(resource: dict[str, Any]) -> list[list[str]]:
    """Every object path the config reads for RESOURCE, as absolute paths."""
    paths = list(resource.get("labelsFromPath", {}).values())
    for metric in resource["metrics"]:
        each = metric["each"]
        spec = each[each["type"][0].lower() + each["type"][1:]]
        base = spec["path"]
        paths.append(base)
        if "valueFrom" in spec:
            # labelFromKey: the base is a map, so the value is read inside each of its values.
            inner = [*base, "*"] if "labelFromKey" in spec else base
            paths.append([*inner, *spec["valueFrom"]])
    return paths


def resolve(kind_schema: dict[str, Any], path: list[str]) -> dict[str, Any] | None:
    parts = path
    node: dict[str, Any] | None = kind_schema
    while parts:
        if "*" in parts:
            star = parts.index("*")
            node = schema_at(node or {}, parts[:star])
            node = (node or {}).get("additionalProperties")
            parts = parts[star + 1 :]
        else:
            return schema_at(node or {}, parts)
    return node


def test_promtool_accepts_the_rules(tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump({"groups": rule_groups()}))
    result = subprocess.run(["promtool", "check", "rules", str(rules_file)], capture_output=True)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_alerts_fire_as_the_unit_tests_specify(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule_groups()}))
    tests = yaml.safe_load(ALERT_TESTS.read_text()) | {"rule_files": ["rules.yaml"]}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests))
    result = subprocess.run(
        ["promtool", "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, timeout=120
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_every_alert_has_a_unit_test() -> None:
    tested = {
        case["alertname"]
        for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
        for case in test["alert_rule_test"]
    }
    alerts = {rule["alert"] for rule in rules() if "alert" in rule}
    assert {"ZkstashBackupFailed", "ZkstashBackupTooOld", "ZkstashRestoreFailed"} <= tested
    assert tested <= alerts


@pytest.mark.parametrize("source", ["rules", "dashboard"])
def test_every_metric_read_is_defined(source: str) -> None:
    expressions = [r["expr"] for r in rules()] if source == "rules" else dashboard_expressions()
    read = {name for expr in expressions for name in METRIC_NAME.findall(expr)}
    assert read
    assert read - defined_metric_names() == set()


def test_every_config_kind_is_a_served_kind() -> None:
    for resource in ksm_resources():
        gvk = resource["groupVersionKind"]
        assert kind_for(f"{gvk['group']}/{gvk['version']}", gvk["kind"]), gvk


def test_every_field_the_config_reads_exists_in_the_schemas() -> None:
    missing = []
    for resource in ksm_resources():
        gvk = resource["groupVersionKind"]
        kind = kind_for(f"{gvk['group']}/{gvk['version']}", gvk["kind"])
        assert kind is not None
        for path in config_paths(resource):
            if path[0] == "metadata":
                found = len(path) == 2 and path[1] in METADATA_FIELDS
            else:
                found = resolve(kind.object_schema, path) is not None
            if not found:
                missing.append(f"{gvk['kind']}: {'.'.join(path)}")
    assert missing == []


def test_monitoring_manifests_validate_strictly() -> None:
    for obj in build(MONITORING):
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # Prometheus Operator kinds: the rules are checked by promtool above
        kubernetes_validate.validate(obj, kubernetes_validate.utils.latest_version(), strict=True)
        kubernetes_validate.validate(obj, "1.29", strict=True)


def test_pod_monitor_scrapes_the_hooks_pods() -> None:
    (monitor,) = [o for o in build(MONITORING) if o["kind"] == "PodMonitor"]
    (deployment,) = [o for o in build(REPO / "manifests") if o["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]
    ports = {p["name"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [
        deployment["metadata"]["namespace"]
    ]
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] in ports
