"""The exporter's names follow Prometheus conventions, and it reads the metadata keys the assets
write: recorded on a real Dagster instance and a real MLflow store, read by the real readers."""

import dagster as dg
import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mlops_assets.assets.metadata import ratio
from mlops_assets.assets.predictions import histogram_table
from mlops_assets.monitoring.collector import SnapshotCollector
from mlops_assets.monitoring.server import exporter_registry
from mlops_assets.monitoring.state_reader import read_states
from mlops_assets.serving.scoring import score_histogram
from mlops_assets.specs import DatasetSpec
from tests.conftest import churn_spec

RULE_BREAKING, REJECTED = 0.002, 0.05  # most rejected rows only lack their label


@pytest.fixture
def families(tmp_path) -> dict:
    spec = DatasetSpec.model_validate(churn_spec(tmp_path / "customers.csv"))
    scores = np.random.default_rng(0).uniform(size=1000)
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=dg.AssetKey(["churn", "validated"]),
                metadata={
                    "dagster/row_count": 950,
                    "rejected_rows": 50,
                    "rejected_share": ratio(REJECTED),
                    "rule_breaking_share": ratio(RULE_BREAKING),
                },
            )
        )
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=dg.AssetKey(["churn", "predictions"]),
                metadata={
                    "dagster/row_count": 1000,
                    "rows_per_second": 2000.0,
                    "latency_p50_ms": 3.1,
                    "latency_p95_ms": 4.2,
                    "prediction_p50": 0.5,
                    "prediction_mean": 0.5,
                    "prediction_histogram": histogram_table(score_histogram("binary", scores)),
                },
            )
        )
        client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
        collector = SnapshotCollector(lambda: read_states(instance, client, [spec], 30))
        collector.refresh()
        exposition = generate_latest(exporter_registry(collector)).decode()
    return {f.name: f for f in text_string_to_metric_families(exposition)}


def _value(families: dict, name: str, **labels: str) -> float:
    [sample] = [
        s for s in families[name].samples if all(s.labels.get(k) == v for k, v in labels.items())
    ]
    return sample.value


def test_the_rejected_ratio_is_the_rule_breaking_share_its_limit_applies_to(families):
    assert _value(families, "mlops_validation_rejected_ratio", spec="churn") == RULE_BREAKING
    assert _value(families, "mlops_validation_rejected_ratio_limit", spec="churn") == 0.01


def test_the_latest_score_distribution_is_gauges_of_ratios(families):
    buckets = families["mlops_prediction_score_bucket_ratio"]
    assert buckets.type == "gauge"
    ratios = {s.labels["upper_bound"]: s.value for s in buckets.samples}
    assert list(ratios) == [f"{0.1 * i:g}" for i in range(1, 11)]
    assert sum(ratios.values()) == pytest.approx(1)
    assert _value(families, "mlops_scoring_duration_seconds", spec="churn") == 0.5
    assert _value(families, "mlops_scoring_batch_latency_p95_seconds", spec="churn") == 0.0042


def test_names_follow_prometheus_conventions(families):
    mlops = {name: f for name, f in families.items() if name.startswith("mlops_")}
    assert not [n for n, f in mlops.items() if f.type in ("histogram", "summary")]
    assert not [n for n, f in mlops.items() if any("quantile" in s.labels for s in f.samples)]
    assert not [n for n in mlops if n.endswith("_share") or "_share_" in n]
    zero_to_one = [n for n, f in mlops.items() if "0 to 1" in f.documentation]
    assert zero_to_one and all(n.endswith(("_ratio", "_ratio_limit")) for n in zero_to_one)
    assert not [n for n in mlops if n.endswith("_per_second")]
    assert {"process_cpu_seconds", "process_resident_memory_bytes", "python_info"} <= set(families)
