"""The committed Prometheus configuration and alert rules pass promtool, and the rules' unit cases hold."""

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, require_service
from tests.monitoring.promql_names import metric_names

PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"


def promtool(*args: str) -> subprocess.CompletedProcess:
    require_service(shutil.which("promtool") is not None, "promtool (Debian package prometheus)")
    return subprocess.run(
        ["promtool", *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "args",
    [
        ("check", "config", "prometheus.yml"),
        ("check", "rules", "alerts.yml"),
        ("test", "rules", "alerts.test.yml"),
    ],
    ids=["check-config", "check-rules", "test-rules"],
)
def test_promtool_accepts(args: tuple[str, ...]):
    result = promtool(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_quiet_case():
    """Each alert is shown firing, and shown quiet: at another moment or for another spec."""
    import re

    import yaml

    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    cases = yaml.safe_load((PROMETHEUS_DIR / "alerts.test.yml").read_text())["tests"]
    firing, quiet = set(), set()
    for case in cases:
        specs = {m for s in case["input_series"] for m in re.findall(r'spec="(\w+)"', s["series"])}
        for check in case["alert_rule_test"]:
            fired_for = {alert["exp_labels"].get("spec") for alert in check["exp_alerts"]}
            if check["exp_alerts"]:
                firing.add(check["alertname"])
            if not check["exp_alerts"] or specs - fired_for:
                quiet.add(check["alertname"])
    assert firing == alerts, f"alerts without a firing case: {alerts - firing}"
    assert quiet == alerts, f"alerts without a quiet case: {alerts - quiet}"


def test_a_promtool_test_fails_when_a_threshold_moves(tmp_path: Path):
    """The unit cases are sharp: moving the scoring-age threshold from 26 h to 30 h breaks them."""
    for name in ("alerts.yml", "alerts.test.yml"):
        shutil.copy(PROMETHEUS_DIR / name, tmp_path / name)
    rules = tmp_path / "alerts.yml"
    rules.write_text(rules.read_text().replace("> 26 * 3600", "> 30 * 3600"))
    require_service(shutil.which("promtool") is not None, "promtool (Debian package prometheus)")
    result = subprocess.run(
        ["promtool", "test", "rules", "alerts.test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "MlopsNoRecentScoring" in result.stdout + result.stderr


def test_metric_name_extraction_reads_promql():
    assert metric_names(
        'sum by (spec, le) (rate(mlops_a_bucket{spec=~"$spec"}[5m])) / on (spec) group_left mlops_b'
    ) == {"mlops_a_bucket", "mlops_b"}
    assert metric_names("time() - mlops_t > 26 * 3600") == {"mlops_t"}
    assert metric_names('histogram_quantile(0.5, sum by (le) (x_bucket{a="b c"}))') == {"x_bucket"}
