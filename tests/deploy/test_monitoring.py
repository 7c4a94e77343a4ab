"""deploy/monitoring/: the alert rules load and fire as meant, the dashboard is well formed, and both
only name series that the code exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY

from backend.core.metrics import BusinessGauges, BusinessSnapshot
from tests.deploy.test_manifests import compose

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
MONITORING = DEPLOY / "monitoring"
RUNBOOK = DEPLOY.parent / "docs" / "operations.md"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "musubi.json"
# PromQL words that look like series names in an expression.
PROMQL_WORDS = {
    "sum", "max", "min", "by", "rate", "increase", "histogram_quantile", "or", "and", "absent", "le", "up",
    "humanize", "humanizeDuration", "humanizePercentage", "value", "labels",
}  # fmt: skip


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary is not None, "promtool is missing: `make install` brings it (Debian package prometheus)"
    return subprocess.run([binary, *args], cwd=MONITORING, capture_output=True, text=True, check=False)


def alert_rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def exported_series() -> set[str]:
    """Every series name the processes expose, including the business gauges read at scrape time."""
    names = set()
    for family in REGISTRY.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        for suffix in ("_total", "_bucket", "_count", "_sum"):
            names.add(family.name + suffix)
    snapshot = BusinessSnapshot({"0-1m": 0}, 0, {"0-10m": 0}, 0, {"special": 1}, 0, 0, 0, 1)
    for family in BusinessGauges(snapshot=snapshot, read_at=datetime.now(UTC).timestamp()).collect():
        names.add(family.name)
    return names


def series_in(expr: str) -> set[str]:
    without_strings = re.sub(r'"[^"]*"', "", expr)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_strings)
    without_labels = re.sub(r"\{[^}]*\}", "", without_ranges)
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_labels))
    return {w for w in words if w.startswith("musubi_")} | ({"up"} & words)


def test_promtool_accepts_the_rules_and_the_scrape_config() -> None:
    rules = promtool("check", "rules", "alerts.yml")
    assert rules.returncode == 0, rules.stdout + rules.stderr
    config = promtool("check", "config", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr


def test_alerts_fire_on_the_situations_they_are_named_for() -> None:
    result = promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_name_only_exported_series_and_have_a_runbook_entry() -> None:
    exported = exported_series() | {"up"}
    headings = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in RUNBOOK.read_text().splitlines()
        if line.startswith("#")
    }
    for rule in alert_rules():
        assert series_in(rule["expr"]) <= exported, (rule["alert"], series_in(rule["expr"]) - exported)
        anchor = rule["annotations"]["runbook"].partition("#")[2]
        assert anchor in headings, f"{rule['alert']}: no '{anchor}' section in docs/operations.md"
    names = {rule["alert"] for rule in alert_rules()}
    assert {"MusubiEmsRequestUnanswered", "MusubiOutboxBacklog", "MusubiRelayLag", "MusubiNoRelayLeader"} <= names
    assert {"MusubiGatewayCloseSpike", "MusubiPushFailureRate", "MusubiDbPoolSaturated", "MusubiApi5xx"} <= names


def test_grafana_dashboard_is_well_formed_and_uses_the_provisioned_datasource() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    datasources = yaml.safe_load((MONITORING / "grafana/provisioning/datasources/prometheus.yml").read_text())
    uid = datasources["datasources"][0]["uid"]
    assert dashboard["uid"]
    assert dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int)
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    taken: set[tuple[int, int]] = set()
    exported = exported_series()
    shown = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        assert grid["h"] > 0, panel["title"]
        columns, lines = range(grid["x"], grid["x"] + grid["w"]), range(grid["y"], grid["y"] + grid["h"])
        cells = {(x, y) for x in columns for y in lines}
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == uid
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == uid
            assert target["refId"]
            assert series_in(target["expr"]) <= exported, (panel["title"], series_in(target["expr"]) - exported)
            shown |= series_in(target["expr"])
    # The series the issue asks operators to see.
    for name in (
        "musubi_http_requests_total", "musubi_http_request_duration_seconds_bucket", "musubi_db_pool_connections",
        "musubi_outbox_backlog", "musubi_relay_lag_seconds_bucket", "musubi_gateway_sockets",
        "musubi_gateway_deliveries_total", "musubi_gateway_slow_consumer_closes_total", "musubi_gateway_resumes_total",
        "musubi_push_deliveries_total", "musubi_idempotency_replays_total", "musubi_login_throttled_total",
        "musubi_ems_requests_unanswered", "musubi_intake_requests_open", "musubi_shelter_beds_free",
        "musubi_bookings_last_minute",
    ):  # fmt: skip
        assert name in shown, name


def test_compose_monitoring_profile_is_provisioned_from_these_files() -> None:
    services = compose()["services"]
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"]
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), source
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for group in job["static_configs"] for t in group["targets"]}
    for target in targets:
        host, port = target.split(":")
        assert host in services, target
        command = services[host]["command"][0]
        expected = {"serve": "8000", "gateway": "8001"}.get(command, services[host].get("environment", {}).get(
            "MUSUBI_METRICS_PORT", compose()["x-musubi"]["environment"]["MUSUBI_METRICS_PORT"]))  # fmt: skip
        assert port == expected, target
