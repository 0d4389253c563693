"""Putting a model card where MLflow users look: an artifact of the version's run, linked from the version."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_assets.governance.model_card import ModelCard

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

CARD_ARTIFACT = "model_card.md"
CARD_TAG = "mlops.model_card"


def card_uri(client: MlflowClient, run_id: str) -> str:
    """Where the card of a run is stored (file://, s3://, ...), readable with `mlflow.artifacts.load_text`."""
    return f"{client.get_run(run_id).info.artifact_uri.rstrip('/')}/{CARD_ARTIFACT}"


def version_description(card: ModelCard) -> str:
    """The model version's description in the MLflow UI: a summary and the link to the full card.

    The link is the card's page in the MLflow UI (http), never the storage URI: a browser
    does not open a file:// or s3:// link from a web page.
    """
    runs_uri = f"`runs:/{card.mlflow_run_id}/{CARD_ARTIFACT}`"
    link = (
        f"[`{CARD_ARTIFACT}`]({card.mlflow_card_url}) ({runs_uri})"
        if card.mlflow_card_url
        else runs_uri
    )
    served = f"v{card.champion_after}" if card.champion_after is not None else "none"
    return (
        f"**{card.decision}** (champion after it: {served}); test {card.metric_name} "
        f"{card.test_metric:.4f}, baseline {card.baseline.get(card.metric_name, float('nan')):.4f}.\n\n"
        f"Model card: {link}\n\n"
        f"- spec: `{card.spec_name}` (fingerprint `{card.spec_fingerprint}`), owner {card.owner}\n"
        f"- training set: `{card.training_set_uri}@v{card.training_set_version}`\n"
        f"- git commit: `{card.git_commit}`\n"
    )


def publish_model_card(client: MlflowClient, card: ModelCard, markdown: str) -> str:
    """Log the card on the version's training run, tag and describe the version with it; return its URI."""
    client.log_text(card.mlflow_run_id, markdown, CARD_ARTIFACT)
    uri = card_uri(client, card.mlflow_run_id)
    client.set_model_version_tag(card.model_name, card.version, CARD_TAG, uri)
    client.update_model_version(
        card.model_name, card.version, description=version_description(card)
    )
    return uri
