"""The promotion decision: a challenger becomes champion only through the gate.

The decision is an asset of its own, so every challenger leaves a record of
what was compared, on which rows, who or what asked, and what happened. The
rules are in `mlops_assets/policy/gate.py`; this step gathers the evidence,
asks the gate and moves the alias.

The comparison with the champion is made on the challenger's test rows that the
champion did not train on either (time split: rows after the champion's
training data; random split: rows not among its train and valid keys), so
neither model is judged on rows it learnt from, even when the schema changed.

The model and gate steps of one spec share a concurrency pool of one slot, so
two trainings of a spec, however they were launched (UI, CLI, schedule, sensor),
never decide at once; the alias move re-reads the champion and fails loudly if
it moved anyway.

One step materializes the decision and the version's model card, then reports
the gate checks. A failed blocking check fails that step only after both are
recorded (Dagster raises at the end of the step), so a rejected challenger
still gets its card: a card downstream of the gate would be skipped with
everything else downstream of a failed blocking check (dagster issue #15761).
"""

import dagster as dg
import polars as pl

from mlops_assets.assets.metadata import metric, records_table
from mlops_assets.assets.model_card import model_card_result, model_card_spec
from mlops_assets.assets.naming import SpecAssets
from mlops_assets.evaluation import PRIMARY_METRIC, markdown_table
from mlops_assets.governance.actors import actor_of, trigger_of
from mlops_assets.governance.model_versions import (
    COMPARISON_COLUMNS,
    VERSION_COLUMNS,
    side_by_side,
    version_run,
    versions_table,
)
from mlops_assets.policy.comparison import compare_on_rows
from mlops_assets.policy.gate import GATE_CHECKS, GateEvidence, judge
from mlops_assets.serving.champion import champion_version, move_champion
from mlops_assets.serving.reference import champion_record
from mlops_assets.serving.registered import load_version
from mlops_assets.training.gate_record import (
    DECISION_ARTIFACT,
    PROMOTED,
    REJECTED,
    abandon_orphans,
    mark_decided,
)
from mlops_assets.training.model_ref import RegisteredModel
from mlops_assets.training.scope import ScopeError
from mlops_assets.training.split import SPLIT
from resources.delta_store import DeltaStore
from resources.mlflow_tracking import MlflowTracking

EVIDENCE_COLUMNS = {
    "check": "Gate check (all must pass for the challenger to become champion)",
    "passed": "Whether the check passed",
    "detail": "The numbers the check compared",
}


def _run_status(instance: dg.DagsterInstance):
    def finished(run_id: str) -> str | None:
        run = instance.get_run_by_id(run_id)
        if run is None:
            return "not in this instance"
        return run.status.value if run.is_finished else None

    return finished


def _versions_view(
    client, links, model_name: str, metric_name: str, challenger: str, champion: str | None
) -> dict:
    """The model-versions table, and the champion that served when the gate decided beside the
    judged challenger, with a link to MLflow's compare view (no comparison before a champion)."""
    view = {
        "model_versions": records_table(
            versions_table(client, model_name, metric_name), VERSION_COLUMNS
        ),
        "mlflow_model_versions": dg.MetadataValue.url(links.registered_model(model_name)),
    }
    if champion is not None and champion != challenger:
        runs = [version_run(client, model_name, v) for v in (champion, challenger)]
        view["champion_vs_challenger"] = records_table(side_by_side(*runs), COMPARISON_COLUMNS)
        view["mlflow_compare"] = dg.MetadataValue.url(
            links.compare_runs(
                [run.info.experiment_id for run in runs], [run.info.run_id for run in runs]
            )
        )
    return view


def build_promotion_assets(names: SpecAssets) -> dg.AssetsDefinition:
    spec = names.spec
    metric_name, _ = PRIMARY_METRIC[spec.target.task]

    @dg.multi_asset(
        name=f"{spec.name}__promotion_gate",
        specs=[
            dg.AssetSpec(
                **names.asset_args(names.promotion, "promotion4"),
                kinds={"mlflow"},
                deps=[names.model, names.evaluation, names.training_set],
                description="The gate between a new model version and serving, with its evidence; "
                "moves the MLflow alias `champion` only when every gate check passes.",
            ),
            model_card_spec(names),
        ],
        ins={"model": dg.AssetIn(key=names.model), "evaluation": dg.AssetIn(key=names.evaluation)},
        pool=names.training_pool,
        check_specs=[
            dg.AssetCheckSpec(
                check,
                asset=names.promotion,
                blocking=True,
                description=description,
            )
            for check, description in zip(
                GATE_CHECKS,
                (
                    "The challenger beats a trivial baseline on the test window.",
                    f"The challenger's test {metric_name} is at least quality.min_test_metric.",
                    f"On rows neither model trained on, the challenger's {metric_name} is not "
                    "below the champion's by more than promotion.max_metric_drop.",
                ),
                strict=True,
            )
        ],
    )
    def promotion_gate(
        context: dg.AssetExecutionContext,
        model: RegisteredModel,
        evaluation: dict,
        delta: DeltaStore,
        mlflow_tracking: MlflowTracking,
    ):
        """Promote the challenger if it passes the gate; record the decision and the card either way."""
        client = mlflow_tracking.client()
        abandoned = abandon_orphans(
            client, spec.model_name, _run_status(context.instance), keep=model.version
        )
        for version in abandoned:
            context.log.warning(f"{spec.name}: v{version} was never gated: marked abandoned")
        metrics, baseline = evaluation["metrics"], evaluation["baseline"]
        champion = champion_version(client, spec.model_name)
        comparison = None
        if champion is not None and champion != model.version:
            test = delta.read(names.training_set, version=model.training_set_version).filter(
                pl.col(SPLIT) == "test"
            )
            record = champion_record(
                client, spec.model_name, champion, delta.object_store_options()
            )
            try:
                unseen = record.scope.unseen(test)
                described = (
                    f"training set v{model.training_set_version} test split, less the rows "
                    f"champion v{champion} {record.scope.describe()}"
                )
                comparison = compare_on_rows(
                    spec.target.task,
                    spec.target.column,
                    load_version(spec.model_name, model.version),
                    load_version(spec.model_name, champion),
                    unseen,
                    described,
                )
            except ScopeError as error:
                context.log.warning(f"{spec.name}: no fair comparison with v{champion}: {error}")
        evidence_in = GateEvidence(
            metric=metric_name,
            challenger_version=model.version,
            challenger_metric=float(metrics[metric_name]),
            baseline_metric=float(baseline[metric_name]),
            floor=spec.quality.min_test_metric,
            max_drop=spec.promotion.max_metric_drop,
            champion_version=champion if champion != model.version else None,
            comparison=comparison,
        )
        verdict = judge(evidence_in)
        trigger, actor = trigger_of(context.run.tags), actor_of(context.run.tags)
        reason = verdict.reason(trigger)
        decision = {
            "decision": verdict.decision,
            "challenger_version": model.version,
            "champion_before": champion,
            "champion_after": model.version if verdict.passed else champion,
            "challenger_metric": evidence_in.challenger_metric,
            "champion_metric": comparison.champion_metric if comparison else None,
            "challenger_metric_on_shared_rows": comparison.challenger_metric
            if comparison
            else None,
            "shared_rows": comparison.rows if comparison else 0,
            "shared_rows_described": comparison.rows_described if comparison else "",
            "baseline_metric": evidence_in.baseline_metric,
            "metric": metric_name,
            "training_set_version": model.training_set_version,
            "trigger": trigger,
            "actor": actor,
            "abandoned_versions": abandoned,
            "checks": {check.name: check.passed for check in verdict.checks},
        }
        client.log_dict(model.run_id, decision, DECISION_ARTIFACT)
        links = mlflow_tracking.links()
        if verdict.passed:
            move_champion(
                client,
                spec.model_name,
                model.version,
                action="promotion",
                reason=reason,
                actor=actor,
                expected_current=champion,
            )
            context.log.info(
                f"{spec.name}: promoted {spec.model_name} v{model.version} to champion"
            )
        else:
            client.set_model_version_tag(
                spec.model_name, model.version, "mlops.rejected_reason", reason[:5000]
            )
            context.log.warning(
                f"{spec.name}: {spec.model_name} v{model.version} not promoted: {reason}"
            )
        mark_decided(
            client, spec.model_name, model.version, PROMOTED if verdict.passed else REJECTED, reason
        )
        checks = pl.DataFrame(
            {
                "check": [c.name for c in verdict.checks],
                "passed": [c.passed for c in verdict.checks],
                "detail": [c.detail for c in verdict.checks],
            },
            schema={"check": pl.String, "passed": pl.Boolean, "detail": pl.String},
        )
        evidence = markdown_table(checks)
        views = _versions_view(client, links, spec.model_name, metric_name, model.version, champion)
        yield dg.MaterializeResult(
            asset_key=names.promotion,
            metadata={
                "decision": decision["decision"],
                "mlflow_challenger_version": dg.MetadataValue.url(
                    links.model_version(spec.model_name, model.version)
                ),
                "mlflow_champion_version": dg.MetadataValue.url(
                    links.model_version(spec.model_name, decision["champion_after"])
                    if decision["champion_after"]
                    else links.registered_model(spec.model_name)
                ),
                "mlflow_decision_record": dg.MetadataValue.url(
                    links.artifact(model.experiment_id, model.run_id, DECISION_ARTIFACT)
                ),
                "challenger_version": dg.MetadataValue.int(int(model.version)),
                "champion_version": dg.MetadataValue.int(int(decision["champion_after"] or 0)),
                "champion_before": champion or "none",
                "metric": metric_name,
                f"challenger_{metric_name}": metric(evidence_in.challenger_metric),
                f"champion_{metric_name}": metric(
                    comparison.champion_metric if comparison else None
                ),
                f"baseline_{metric_name}": metric(evidence_in.baseline_metric),
                "shared_rows": dg.MetadataValue.int(comparison.rows if comparison else 0),
                "shared_rows_described": decision["shared_rows_described"] or "no champion",
                "trigger": trigger,
                "actor": actor,
                "reason": reason,
                "abandoned_versions": dg.MetadataValue.json(abandoned),
                "training_set_version": dg.MetadataValue.int(model.training_set_version),
                "evidence": records_table(checks, EVIDENCE_COLUMNS),
                **views,
            },
        )
        for check in verdict.checks:
            yield dg.AssetCheckResult(
                asset_key=names.promotion,
                check_name=check.name,
                passed=check.passed,
                description=check.detail,
            )
        yield model_card_result(
            context,
            names,
            mlflow_tracking,
            model=model,
            evaluation=evaluation,
            decision=decision,
            evidence=evidence,
        )

    return promotion_gate


__all__ = ["GATE_CHECKS", "build_promotion_assets"]
