"""The promotion decision: a challenger becomes champion only through the gate.

The decision is an asset of its own, so every challenger leaves a record of
what was compared, on which data, who or what asked, and what happened.

One step materializes the decision and the version's model card, then reports
the gate checks. A failed blocking check fails that step only after both are
recorded (Dagster raises at the end of the step), so a rejected challenger
still gets its card: a card downstream of the gate would be skipped with
everything else downstream of a failed blocking check (dagster issue #15761).
"""

import json

import dagster as dg
import mlflow.pyfunc
import polars as pl

from mlops_assets.assets.model_card import model_card_result, model_card_spec
from mlops_assets.assets.naming import SpecAssets
from mlops_assets.evaluation import PRIMARY_METRIC, markdown_table, task_metrics
from mlops_assets.governance.actors import actor_of, trigger_of
from mlops_assets.serving.champion import champion_version, move_champion
from mlops_assets.serving.scoring import score_frame
from mlops_assets.specs.model import DatasetSpec
from mlops_assets.training.model_ref import RegisteredModel
from mlops_assets.training.split import SPLIT
from resources.delta_store import DeltaStore
from resources.mlflow_tracking import MlflowTracking

CHALLENGER_BEATS_BASELINE = "challenger_beats_baseline"
CHALLENGER_MEETS_FLOOR = "challenger_meets_floor"
CHALLENGER_NOT_WORSE_THAN_CHAMPION = "challenger_not_worse_than_champion"
GATE_CHECKS = (
    CHALLENGER_BEATS_BASELINE,
    CHALLENGER_MEETS_FLOOR,
    CHALLENGER_NOT_WORSE_THAN_CHAMPION,
)


def champion_metric_on(
    spec: DatasetSpec, champion: str, test: pl.DataFrame, threshold: float
) -> float:
    """The champion's primary metric on the challenger's test rows: same rows, fair comparison."""
    model = mlflow.pyfunc.load_model(f"models:/{spec.model_name}/{champion}")
    encoding = model.unwrap_python_model().encoding
    test, labels = encoding.known_labels(test, spec.target.column)
    scores = score_frame(model, test).scores
    n_classes = len(encoding.classes) or None
    metric_name, _ = PRIMARY_METRIC[spec.target.task]
    return task_metrics(spec.target.task, labels, scores, threshold=threshold, n_classes=n_classes)[
        metric_name
    ]


def build_promotion_assets(names: SpecAssets) -> dg.AssetsDefinition:
    spec = names.spec
    metric_name, _ = PRIMARY_METRIC[spec.target.task]

    @dg.multi_asset(
        name=f"{spec.name}__promotion_gate",
        specs=[
            dg.AssetSpec(
                **names.asset_args(names.promotion, "promotion1"),
                kinds={"mlflow"},
                deps=[names.model, names.evaluation, names.training_set],
                description="The gate between a new model version and serving, with its evidence; "
                "moves the MLflow alias `champion` only when every gate check passes.",
            ),
            model_card_spec(names),
        ],
        ins={"model": dg.AssetIn(key=names.model), "evaluation": dg.AssetIn(key=names.evaluation)},
        check_specs=[
            dg.AssetCheckSpec(
                CHALLENGER_BEATS_BASELINE,
                asset=names.promotion,
                blocking=True,
                description="The challenger beats a trivial baseline on the test window.",
            ),
            dg.AssetCheckSpec(
                CHALLENGER_MEETS_FLOOR,
                asset=names.promotion,
                blocking=True,
                description=f"The challenger's test {metric_name} is at least quality.min_test_metric.",
            ),
            dg.AssetCheckSpec(
                CHALLENGER_NOT_WORSE_THAN_CHAMPION,
                asset=names.promotion,
                blocking=True,
                description=f"On the same test rows, the challenger's {metric_name} is not below the "
                "champion's by more than promotion.max_metric_drop.",
            ),
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
        metrics, baseline = evaluation["metrics"], evaluation["baseline"]
        challenger_metric = float(metrics[metric_name])
        champion = champion_version(client, spec.model_name)
        champion_metric = None
        if champion is not None and champion != model.version:
            test = delta.read(names.training_set, version=model.training_set_version).filter(
                pl.col(SPLIT) == "test"
            )
            champion_metric = champion_metric_on(spec, champion, test, model.decision_threshold)
        floor = spec.quality.min_test_metric
        margin = spec.promotion.max_metric_drop
        results = {
            CHALLENGER_BEATS_BASELINE: (
                bool(challenger_metric > baseline[metric_name]),
                f"{metric_name} {challenger_metric:.4f} vs baseline {baseline[metric_name]:.4f}",
            ),
            CHALLENGER_MEETS_FLOOR: (
                floor is None or challenger_metric >= floor,
                f"{metric_name} {challenger_metric:.4f}, floor {floor if floor is not None else 'none'}",
            ),
            CHALLENGER_NOT_WORSE_THAN_CHAMPION: (
                champion_metric is None or bool(challenger_metric >= champion_metric - margin),
                "no champion yet: the first model is promoted if it beats the baseline"
                if champion_metric is None
                else f"{metric_name} {challenger_metric:.4f} vs champion v{champion} {champion_metric:.4f} "
                f"(allowed drop {margin})",
            ),
        }
        passed = all(ok for ok, _ in results.values())
        trigger, actor = trigger_of(context.run.tags), actor_of(context.run.tags)
        reason = f"{trigger}: " + "; ".join(
            f"{name}: {detail}" for name, (_, detail) in results.items()
        )
        if passed:
            move_champion(
                client,
                spec.model_name,
                model.version,
                action="promotion",
                reason=reason,
                actor=actor,
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
        decision = {
            "decision": "promoted" if passed else "rejected",
            "challenger_version": model.version,
            "champion_before": champion,
            "champion_after": model.version if passed else champion,
            "challenger_metric": challenger_metric,
            "champion_metric": champion_metric,
            "baseline_metric": float(baseline[metric_name]),
            "metric": metric_name,
            "training_set_version": model.training_set_version,
            "trigger": trigger,
            "actor": actor,
            "checks": {name: ok for name, (ok, _) in results.items()},
        }
        client.log_dict(model.run_id, decision, "promotion/decision.json")
        evidence = markdown_table(
            pl.DataFrame(
                {
                    "check": list(results),
                    "passed": [ok for ok, _ in results.values()],
                    "detail": [detail for _, detail in results.values()],
                }
            )
        )
        yield dg.MaterializeResult(
            asset_key=names.promotion,
            metadata={
                "decision": decision["decision"],
                "challenger_version": dg.MetadataValue.int(int(model.version)),
                "champion_version": dg.MetadataValue.int(int(decision["champion_after"] or 0)),
                "champion_before": champion or "none",
                f"challenger_{metric_name}": dg.MetadataValue.float(challenger_metric),
                f"champion_{metric_name}": dg.MetadataValue.float(
                    champion_metric if champion_metric is not None else float("nan")
                ),
                "trigger": trigger,
                "actor": actor,
                "reason": reason,
                "training_set_version": dg.MetadataValue.int(model.training_set_version),
                "evidence": dg.MetadataValue.md(evidence),
                "decision_json": dg.MetadataValue.json(
                    json.loads(json.dumps(decision, default=str))
                ),
            },
        )
        for name, (ok, detail) in results.items():
            yield dg.AssetCheckResult(
                asset_key=names.promotion, check_name=name, passed=bool(ok), description=detail
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
