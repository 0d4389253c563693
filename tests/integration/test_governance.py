"""Model cards and the audit trail, on real trainings, promotions, a rejection and a rollback."""

from __future__ import annotations

import json

import dagster as dg
import mlflow
import pytest

from mlops_assets.assets.metadata import names_of
from mlops_assets.cli import main, run_spec
from tests.conftest import churn_spec, customers_table

pytestmark = pytest.mark.slow

CARD = dg.AssetKey(["churn", "model_card"])
INTENDED_USE = "Rank existing customers by churn risk for the retention team's weekly call list."
LIMITATION = "Customers younger than one month are not in the training data."


def governed_churn_spec(path, **training) -> dict:
    spec = churn_spec(
        path,
        training={"num_boost_round": 200, "early_stopping_rounds": 20, **training},
        promotion={"max_metric_drop": 0.05},
        quality={"slice_column": "plan"},
    )
    return {**spec, "intended_use": INTENDED_USE, "limitations": [LIMITATION]}


def _cards(platform) -> dict[int, dict]:
    """The model_card asset's materializations by model version, newest first wins."""
    cards: dict[int, dict] = {}
    for record in platform.instance().fetch_materializations(CARD, limit=20).records:
        metadata = {k: v.value for k, v in record.asset_materialization.metadata.items()}
        cards.setdefault(metadata["model_version"], metadata)
    return cards


def _model_metadata(platform, version: int) -> dict:
    for record in (
        platform.instance()
        .fetch_materializations(dg.AssetKey(["churn", "model"]), limit=20)
        .records
    ):
        metadata = {k: v.value for k, v in record.asset_materialization.metadata.items()}
        if metadata["model_version"] == version:
            return metadata
    raise AssertionError(f"no model materialization for version {version}")


def _retrain_on_schedule(platform) -> None:
    """The retraining job as the daemon launches it for the schedule: the schedule's own tags."""
    from dagster._core.storage.dagster_run import DagsterRun

    from mlops_assets.definitions import build_definitions

    defs = build_definitions()
    schedule = defs.resolve_schedule_def("churn_scheduled_retraining")
    [request] = schedule.evaluate_tick(
        dg.build_schedule_context(instance=platform.instance())
    ).run_requests
    result = defs.resolve_job_def("churn_retraining").execute_in_process(
        instance=platform.instance(),
        tags={**request.tags, **DagsterRun.tags_for_schedule(schedule)},
    )
    assert result.success


def _retrain_a_bagged_challenger_on_schedule(platform, path) -> None:
    """A second training with other bagging settings: close to v1, within the allowed drop."""
    platform.write_spec(
        governed_churn_spec(
            path,
            seed=7,
            params={"feature_fraction": 0.7, "bagging_fraction": 0.7, "bagging_freq": 1},
        )
    )
    _retrain_on_schedule(platform)


@pytest.fixture
def churn(platform):
    path = platform.data / "customers.csv"
    customers_table(1200).write_csv(path)
    platform.write_spec(governed_churn_spec(path))
    first = run_spec("churn", user="alice@example.com")
    assert first["success"] and first["promotion"] == "promoted", first
    return platform, path


def test_every_training_writes_a_card_to_dagster_and_mlflow(churn):
    platform, path = churn
    _retrain_a_bagged_challenger_on_schedule(platform, path)
    cards = _cards(platform)
    assert set(cards) == {1, 2}
    client = mlflow.MlflowClient()
    for version, metadata in cards.items():
        card = metadata["model_card"]
        model = _model_metadata(platform, version)
        assert f"# Model card: churn_model v{version}" in card
        assert f"Delta version **{model['training_set_version']}**" in card
        assert model["training_set_data_version"] in card
        assert INTENDED_USE in card and LIMITATION in card
        assert "| owner | team:ml |" in card
        assert "### By `plan`" in card and "| basic |" in card
        assert all(f"`{feature}`" in card for feature in names_of(model["features"]))
        assert f"**{metadata['decision'].upper()}**" in card
        mlflow_version = client.get_model_version("churn_model", str(version))
        uri = mlflow_version.tags["mlops.model_card"]
        assert uri.endswith("/model_card.md") and metadata["model_card_uri"] == uri
        assert mlflow.artifacts.load_text(uri) == card
        assert "Model card: [`model_card.md`]" in mlflow_version.description
        assert mlflow.artifacts.load_text(f"runs:/{mlflow_version.run_id}/model_card.md") == card

    first, second = cards[1]["model_card"], cards[2]["model_card"]
    assert first != second
    assert "There was no champion before this model" in first
    assert "No drift result was recorded before this training" in first
    assert "trigger `cli`" in first and "alice@example.com" in first
    assert "| v1 (champion) |" in second and "Same test rows for both" in second
    assert "Latest drift result before training: window **whole table**" in second
    assert "trigger `schedule` (schedule:churn_scheduled_retraining)" in second


def test_a_rejected_challenger_gets_its_card_and_the_champion_stays(churn):
    platform, path = churn
    platform.write_spec(
        governed_churn_spec(
            path,
            num_boost_round=1,
            params={"num_leaves": 2, "learning_rate": 0.0001, "min_data_in_leaf": 500},
        )
    )
    rejected = run_spec("churn")
    assert not rejected["success"] and rejected["promotion"] == "rejected", rejected
    assert "churn/promotion:challenger_not_worse_than_champion" in rejected["error"]
    assert rejected["model_version"] == 2
    client = mlflow.MlflowClient()
    assert str(client.get_model_version_by_alias("churn_model", "champion").version) == "1"

    cards = _cards(platform)
    assert set(cards) == {1, 2}
    metadata = cards[2]
    assert metadata["decision"] == "rejected"
    card = metadata["model_card"]
    assert "# Model card: churn_model v2" in card
    assert "| decision | **REJECTED**; champion after it: v1 |" in card
    assert "| v1 (champion) |" in card and "Same test rows for both" in card
    assert "| challenger_not_worse_than_champion | False |" in card
    [card_record] = platform.instance().fetch_materializations(CARD, limit=1).records
    [gate_record] = (
        platform.instance()
        .fetch_materializations(dg.AssetKey(["churn", "promotion"]), limit=1)
        .records
    )
    assert card_record.run_id == gate_record.run_id == rejected["run_ids"][-1]

    version = client.get_model_version("churn_model", "2")
    uri = version.tags["mlops.model_card"]
    assert uri.endswith("/model_card.md") and metadata["model_card_uri"] == uri
    assert mlflow.artifacts.load_text(uri) == card
    assert mlflow.artifacts.load_text(f"runs:/{version.run_id}/model_card.md") == card
    assert version.description.startswith("**rejected** (champion after it: v1)")
    assert "challenger_not_worse_than_champion" in version.tags["mlops.rejected_reason"]


def test_audit_lists_promotions_rejection_and_rollback_in_order(churn, capsys):
    platform, path = churn
    _retrain_a_bagged_challenger_on_schedule(platform, path)
    reason = "v2 over-predicts churn for new plans"
    assert (
        main(["rollback", "--spec", "churn", "--reason", reason, "--user", "bob@example.com"]) == 0
    )
    platform.write_spec(
        governed_churn_spec(
            path,
            num_boost_round=1,
            params={"num_leaves": 2, "learning_rate": 0.0001, "min_data_in_leaf": 500},
        )
    )
    rejected = run_spec("churn")
    assert not rejected["success"] and rejected["promotion"] == "rejected"
    capsys.readouterr()

    assert main(["audit", "--spec", "churn", "--json"]) == 0
    trail = json.loads(capsys.readouterr().out)
    assert trail["champion"] == "1" and trail["champion_explained_by_trail"]
    events = trail["events"]
    assert [(e["action"], e["model_version"]) for e in events] == [
        ("promoted", "1"),
        ("promoted", "2"),
        ("rollback", "1"),
        ("rejected", "3"),
    ]
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    first, scheduled, rollback, rejection = events
    assert first["actor"] == "alice@example.com" and first["trigger"] == "cli"
    assert first["champion_before"] is None and first["champion_after"] == "1"
    assert first["evidence"]["checks"]["challenger_beats_baseline"] is True
    assert first["evidence"]["model_card"].endswith("/model_card.md")
    assert first["evidence"]["decision_record"].endswith("/promotion/decision.json")
    assert scheduled["trigger"] == "schedule" and scheduled["actor"] == "dagster:schedule"
    assert scheduled["launched_by"] == "schedule:churn_scheduled_retraining"
    assert scheduled["champion_before"] == "1" and scheduled["champion_after"] == "2"
    assert scheduled["evidence"]["champion"] is not None
    assert "challenger_not_worse_than_champion" in scheduled["reason"]
    assert rollback["actor"] == "bob@example.com" and rollback["reason"] == reason
    assert rollback["run_id"] is None and rollback["changed_champion"]
    assert (rollback["champion_before"], rollback["champion_after"]) == ("2", "1")
    assert rejection["champion_after"] == "1" and not rejection["changed_champion"]
    assert rejection["evidence"]["checks"]["challenger_not_worse_than_champion"] is False
    assert rejection["actor"].startswith("cli:") and rejection["run_id"]
    assert rejection["evidence"]["model_card"].endswith("/model_card.md")
    assert all(e["source"] == "dagster" for e in events)

    assert main(["audit", "--spec", "churn"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("churn_model: champion v1 (4 recorded decisions)")
    assert f"why: {reason}" in text and "by bob@example.com (trigger rollback" in text
    assert text.index("promoted  v1") < text.index("rollback  v1") < text.index("rejected  v3")
    assert "model card: " in text[text.index("rejected  v3") :]


def test_audit_reports_a_champion_moved_outside_the_platform(churn, capsys):
    platform, path = churn
    platform.write_spec(governed_churn_spec(path, seed=7))
    _retrain_on_schedule(platform)
    mlflow.MlflowClient().set_registered_model_alias("churn_model", "champion", "1")
    assert main(["audit", "--spec", "churn"]) == 0
    text = capsys.readouterr().out
    assert "the champion alias points at v1, but the last recorded change left v2" in text


def test_a_version_registered_without_its_gate_is_listed_then_abandoned(churn, capsys):
    platform, _ = churn
    from mlops_assets.definitions import build_resources
    from mlops_assets.pipeline import build_spec_assets
    from mlops_assets.specs import find_spec

    result = dg.materialize(
        build_spec_assets(find_spec("churn")),
        selection=[dg.AssetKey(["churn", "training_set"]), dg.AssetKey(["churn", "model"])],
        instance=platform.instance(),
        resources=build_resources(),
    )
    assert result.success
    assert main(["audit", "--spec", "churn"]) == 0
    assert "UNGATED: v2" in capsys.readouterr().out

    again = run_spec("churn")
    assert again["model_version"] == 3, again
    tags = mlflow.MlflowClient().get_model_version("churn_model", "2").tags
    assert tags["mlops.gate"] == "abandoned"
    assert result.run_id in tags["mlops.gate_reason"]
    gate = platform.instance().get_latest_materialization_event(dg.AssetKey(["churn", "promotion"]))
    assert gate.asset_materialization.metadata["abandoned_versions"].value == ["2"]
    assert main(["audit", "--spec", "churn", "--json"]) == 0
    trail = json.loads(capsys.readouterr().out)
    assert not trail["ungated_versions"]
    abandoned = [e for e in trail["events"] if e["action"] == "abandoned"]
    assert [e["model_version"] for e in abandoned] == ["2"]
    assert "never gated" in abandoned[0]["reason"]


def test_a_promotion_only_the_registry_recorded_names_the_true_previous_champion(churn, capsys):
    """The gate moved the alias, then its process died before Dagster stored the decision."""
    platform, path = churn
    _retrain_a_bagged_challenger_on_schedule(platform, path)
    platform.write_spec(
        governed_churn_spec(
            path,
            num_boost_round=1,
            params={"num_leaves": 2, "learning_rate": 0.0001, "min_data_in_leaf": 500},
        )
    )
    assert run_spec("churn")["promotion"] == "rejected"  # v3, a Dagster event says rejected
    from mlops_assets.serving.champion import move_champion

    client = mlflow.MlflowClient()
    move_champion(
        client, "churn_model", "3", action="promotion", reason="gate", actor="dagster:cli"
    )
    assert main(["audit", "--spec", "churn", "--json"]) == 0
    trail = json.loads(capsys.readouterr().out)
    [registry_only] = [e for e in trail["events"] if e["source"] == "mlflow"]
    assert registry_only["model_version"] == "3" and registry_only["action"] == "promoted"
    assert (registry_only["champion_before"], registry_only["champion_after"]) == ("2", "3")
    assert trail["champion_explained_by_trail"]


def test_a_reexecution_is_recorded_as_such_not_as_its_parent_trigger(churn):
    platform, _ = churn
    first = platform.instance().get_runs(filters=dg.RunsFilter(tags={"mlops/trigger": "cli"}))[-1]
    from mlops_assets.governance.actors import actor_of, launched_by, trigger_of

    tags = {
        **first.tags,
        "dagster/parent_run_id": first.run_id,
        "dagster/root_run_id": first.run_id,
    }
    assert trigger_of(tags) == "reexecution"
    assert actor_of(tags) == "dagster:reexecution"
    assert launched_by(tags) == f"reexecution of run {first.run_id}, first launched as cli"
    retry = {**tags, "dagster/retry_number": "1"}
    assert (trigger_of(retry), actor_of(retry)) == ("retry", "dagster:retry")
