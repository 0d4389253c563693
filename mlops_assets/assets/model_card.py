"""The model card asset: one card per model version, promoted or rejected, built from lineage.

It has no step of its own: the promotion gate materializes it with the decision
(see `promotion.py`), so a challenger the gate rejects still gets its card.
"""

import hashlib
import json

import dagster as dg

from mlops_assets.assets.naming import SpecAssets
from mlops_assets.governance.card_lineage import LineageKeys, gather_model_card
from mlops_assets.governance.card_publishing import CARD_ARTIFACT, publish_model_card
from mlops_assets.governance.model_card import known_limitations, render_model_card
from mlops_assets.specs.model import CARD_ONLY_FIELDS
from mlops_assets.training.model_ref import RegisteredModel
from resources.mlflow_tracking import MlflowTracking


def card_fields_version(names: SpecAssets) -> str:
    """A short hash of the spec's card-only fields: rewording them marks only the card stale."""
    fields = names.spec.model_dump(mode="json", include=set(CARD_ONLY_FIELDS))
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:8]


def model_card_spec(names: SpecAssets) -> dg.AssetSpec:
    """The card asset, materialized by the promotion gate's step right after the decision."""
    return dg.AssetSpec(
        **names.asset_args(names.model_card, f"model_card1.{card_fields_version(names)}"),
        kinds={"mlflow", "markdown"},
        deps=[names.model, names.evaluation, names.promotion],
        description="The model card of the latest model version, promoted or rejected: intended use, "
        "data versions and windows, features, metrics overall and by slice, the champion comparison, "
        f"drift at training time, limitations and the promotion decision. Also in MLflow as "
        f"`{CARD_ARTIFACT}` on the version's run.",
    )


def model_card_result(
    context: dg.AssetExecutionContext,
    names: SpecAssets,
    mlflow_tracking: MlflowTracking,
    *,
    model: RegisteredModel,
    evaluation: dict,
    decision: dict,
    evidence: str,
) -> dg.MaterializeResult:
    """What a reader of this model version must know before relying on it, from its recorded lineage.

    Published to MLflow (artifact, version tag and description) whatever the decision was.
    """
    spec = names.spec
    client = mlflow_tracking.client()
    run_url = mlflow_tracking.run_url(model.experiment_id, model.run_id)
    version_url = mlflow_tracking.model_version_url(model.name, model.version)
    card_url = mlflow_tracking.artifact_url(model.experiment_id, model.run_id, CARD_ARTIFACT)
    card = gather_model_card(
        spec,
        LineageKeys(training_set=names.training_set, drift=names.drift),
        context.instance,
        client,
        model=model,
        evaluation=evaluation,
        decision=decision,
        evidence=evidence,
        dagster_run_id=context.run_id,
        run_tags=context.run.tags,
        mlflow_run_url=run_url,
        mlflow_model_version_url=version_url,
        mlflow_card_url=card_url,
    )
    markdown = render_model_card(card)
    uri = publish_model_card(client, card, markdown)
    context.log.info(f"{spec.name}: model card of {card.title} logged to {uri}")
    return dg.MaterializeResult(
        asset_key=names.model_card,
        metadata={
            "model_card": dg.MetadataValue.md(markdown),
            "model_card_uri": dg.MetadataValue.path(uri),
            "mlflow_model_card": dg.MetadataValue.url(card_url),
            "mlflow_run": dg.MetadataValue.url(run_url),
            "mlflow_model_version": dg.MetadataValue.url(version_url),
            "model_name": model.name,
            "model_version": dg.MetadataValue.int(int(model.version)),
            "decision": card.decision,
            "training_set_version": dg.MetadataValue.int(model.training_set_version),
            "training_set_data_version": model.training_set_data_version,
            "drift_window_at_training": card.drift.window if card.drift else "none",
            "known_limitations": dg.MetadataValue.int(len(known_limitations(card))),
        },
    )
