"""The model card's own rules: what it says when the spec is silent, which slices it calls weak."""

from __future__ import annotations

from dataclasses import replace

import polars as pl

from mlops_assets.governance.model_card import (
    DriftStatus,
    ModelCard,
    known_limitations,
    render_model_card,
    weak_slices,
)
from mlops_assets.specs.model import DatasetSpec


def _card(**changes) -> ModelCard:
    card = ModelCard(
        spec_name="churn",
        model_name="churn_model",
        version="3",
        owner="team:ml",
        description="",
        intended_use="",
        task="binary",
        target="churned",
        generated_at="2024-05-01T00:00:00+00:00",
        dagster_run_id="run-1",
        trigger="drift",
        launched_by="sensor:churn_drift_retraining",
        mlflow_run_id="abc",
        mlflow_run_url=None,
        git_commit="deadbeef",
        spec_fingerprint="f" * 16,
        training_set_uri="/tables/churn/training_set",
        training_set_version=4,
        training_set_data_version="d" * 20,
        windows={
            "test": ">= 2024-04-01",
            "train": "< 2024-03-15",
            "valid": "2024-03-15 .. 2024-04-01",
        },
        time_split=True,
        splits="",
        features=["tenure_months", "plan"],
        categorical=["plan"],
        excluded={"email_hash": "600 distinct values"},
        metric_name="roc_auc",
        metrics={"roc_auc": 0.8, "log_loss": 0.5},
        baseline={"roc_auc": 0.5, "log_loss": 0.69},
        test_rows=300,
        slice_column="plan",
        slices=pl.DataFrame(
            {
                "slice": ["basic", "plus", "pro"],
                "rows": [100, 100, 100],
                "roc_auc": [0.74, 0.75, 0.62],
            }
        ),
        decision="rejected",
        champion_before="2",
        champion_after="2",
        champion_metric=0.82,
        actor="dagster:drift",
        evidence="| check | passed |",
        drift=DriftStatus(
            "2024-04-30", "2024-05-01T00:00:00+00:00", "2", 0.6, True, True, ["plan"]
        ),
    )
    return replace(card, **changes)


def test_only_slices_well_below_the_median_slice_are_weak():
    [weak] = weak_slices(_card())
    assert weak.startswith("Weaker on `plan` = `pro`") and "median of 0.7400" in weak
    even = pl.DataFrame({"slice": ["a", "b"], "rows": [50, 50], "roc_auc": [0.70, 0.72]})
    assert weak_slices(_card(slices=even)) == []
    assert weak_slices(_card(slices=pl.DataFrame())) == []


def test_limitations_come_from_the_spec_then_from_the_lineage():
    limitations = known_limitations(_card(limitations=["Not for pricing decisions."]))
    assert limitations[0] == "Not for pricing decisions."
    assert any("latest window (>= 2024-04-01)" in line for line in limitations)
    assert any("`email_hash` (600 distinct values)" in line for line in limitations)
    assert any("showed dataset drift (share 0.60)" in line for line in limitations)
    random = known_limitations(_card(time_split=False, drift=None, excluded={}))
    assert any("drawn at random" in line for line in random)
    assert not any("drift" in line for line in random)


def test_the_card_states_a_missing_intended_use_and_the_decision():
    text = render_model_card(_card())
    assert "The spec states no intended use; set `intended_use`" in text
    assert "**REJECTED**; champion after it: v2" in text
    assert "trigger `drift` (sensor:churn_drift_retraining)" in text
    assert "| v1 (champion)" not in text and "| v2 (champion) | 0.8200 |" in text
    assert "Difference: -0.0200 roc_auc" in text
    assert text.index("| train |") < text.index("| valid |") < text.index("| test |")
    assert "window **2024-04-30**" in text and "drifted features: `plan`" in text
    stated = render_model_card(_card(intended_use="Weekly retention call list."))
    assert "Weekly retention call list." in stated and "states no intended use" not in stated


def test_card_only_spec_fields_do_not_change_the_fingerprint():
    base = {
        "name": "churn",
        "source": {"uri": "customers.csv"},
        "target": {"column": "churned", "task": "binary"},
    }
    plain = DatasetSpec.model_validate(base)
    documented = DatasetSpec.model_validate(
        {**base, "intended_use": "Call list.", "limitations": ["No new customers."]}
    )
    assert documented.limitations == ["No new customers."]
    assert plain.fingerprint() == documented.fingerprint()
    retrained = DatasetSpec.model_validate({**base, "training": {"seed": 7}})
    assert retrained.fingerprint() != plain.fingerprint()
