"""The model card: one markdown page per model version, for readers who never open the code.

`ModelCard` is plain data gathered from lineage (see `card_lineage.py`);
`render_model_card` turns it into markdown, the same text the Dagster UI shows
in the `model_card` asset's metadata and MLflow keeps as `model_card.md`.
"""

from dataclasses import dataclass, field

import polars as pl

from mlops_assets.evaluation import markdown_table

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class DriftStatus:
    """The latest drift result recorded before the model was trained."""

    window: str
    recorded_at: str
    champion_version: str
    drift_share: float
    dataset_drift: bool
    retrain_signal: bool
    drifted_features: list[str]


@dataclass(frozen=True)
class ModelCard:
    """Everything a model card states about one model version, already looked up."""

    spec_name: str
    model_name: str
    version: str
    owner: str
    description: str
    intended_use: str
    task: str
    target: str
    generated_at: str
    # Where it came from.
    dagster_run_id: str
    trigger: str
    launched_by: str
    mlflow_run_id: str
    mlflow_run_url: str | None
    git_commit: str
    spec_fingerprint: str
    # Data.
    training_set_uri: str
    training_set_version: int
    training_set_data_version: str
    windows: dict[str, str]
    time_split: bool
    splits: str
    # Features.
    features: list[str]
    categorical: list[str]
    excluded: dict[str, str]
    # Metrics.
    metric_name: str
    metrics: dict[str, float]
    baseline: dict[str, float]
    test_rows: int
    slice_column: str | None
    slices: pl.DataFrame
    # Champion and decision.
    decision: str
    champion_before: str | None
    champion_after: str | None
    champion_metric: float | None
    actor: str
    evidence: str
    drift: DriftStatus | None
    limitations: list[str] = field(default_factory=list)
    # Links into the MLflow UI (http), when known.
    mlflow_model_version_url: str | None = None
    mlflow_card_url: str | None = None

    @property
    def test_metric(self) -> float:
        return float(self.metrics[self.metric_name])

    @property
    def title(self) -> str:
        return f"{self.model_name} v{self.version}"


def _number(value: float | None) -> str:
    return "n/a" if value is None or value != value else f"{value:.4f}"


def weak_slices(card: ModelCard, margin: float = 0.05) -> list[str]:
    """Slices whose primary metric is more than `margin` worse than the median slice's.

    Slices are compared with each other, not with the overall metric: a ranking
    metric such as ROC AUC is lower inside every slice whenever the slice column
    itself predicts the label, so "below overall" would flag them all.
    """
    if card.slices.height < 2 or card.metric_name not in card.slices.columns:
        return []
    values = card.slices[card.metric_name]
    median = float(values.median())
    lower_is_better = card.metric_name in {"log_loss", "brier", "rmse", "mae"}
    weak = card.slices.filter(
        (pl.col(card.metric_name) > median + margin)
        if lower_is_better
        else (pl.col(card.metric_name) < median - margin)
    )
    return [
        f"Weaker on `{card.slice_column}` = `{row['slice']}` ({row['rows']} test rows): "
        f"{card.metric_name} {_number(row[card.metric_name])} against a median of "
        f"{_number(median)} across `{card.slice_column}` slices."
        for row in weak.iter_rows(named=True)
    ]


def known_limitations(card: ModelCard) -> list[str]:
    """The spec's stated limitations, then what the lineage itself shows."""
    shown = list(card.limitations)
    if card.time_split:
        shown.append(
            f"Judged on {card.test_rows} test rows from the latest window "
            f"({card.windows.get('test', 'test split')}); how it does on later data is measured "
            "only by the drift asset, once labels arrive."
        )
    else:
        shown.append(
            f"Judged on {card.test_rows} test rows drawn at random from the same period as the "
            "training rows: the test says nothing about how the model ages over time."
        )
    shown += weak_slices(card)
    if card.excluded:
        shown.append(
            "Left out of the model: "
            + "; ".join(f"`{name}` ({why})" for name, why in sorted(card.excluded.items()))
            + "."
        )
    if card.drift is not None and card.drift.dataset_drift:
        shown.append(
            f"Trained while window {card.drift.window} showed dataset drift "
            f"(share {card.drift.drift_share:.2f})."
        )
    return shown


def _intended_use(card: ModelCard) -> str:
    if card.intended_use:
        return card.intended_use
    return (
        f"Predicts `{card.target}` ({card.task}) for rows shaped like the `{card.spec_name}` source. "
        "The spec states no intended use; set `intended_use` in the spec to say who may rely on "
        "these scores and for what."
    )


def _metrics_table(card: ModelCard) -> str:
    frame = pl.DataFrame(
        {
            "metric": list(card.metrics),
            "model": [card.metrics[k] for k in card.metrics],
            "baseline": [card.baseline.get(k, float("nan")) for k in card.metrics],
        }
    )
    return markdown_table(frame)


def _champion_section(card: ModelCard) -> str:
    if card.champion_before is None:
        return "There was no champion before this model: the first model is promoted if it beats the baseline.\n"
    if card.champion_metric is None:
        return f"The champion was v{card.champion_before}; it was not scored against this model.\n"
    delta = card.test_metric - card.champion_metric
    return markdown_table(
        pl.DataFrame(
            {
                "model": [f"v{card.version} (this model)", f"v{card.champion_before} (champion)"],
                card.metric_name: [card.test_metric, card.champion_metric],
            }
        )
    ) + (f"\n\nSame test rows for both. Difference: {delta:+.4f} {card.metric_name}.\n")


def _drift_section(card: ModelCard) -> str:
    drift = card.drift
    if drift is None:
        return "No drift result was recorded before this training (the champion had not scored any window yet).\n"
    features = ", ".join(f"`{f}`" for f in drift.drifted_features[:10]) or "none"
    return (
        f"Latest drift result before training: window **{drift.window}**, recorded {drift.recorded_at}, "
        f"against champion v{drift.champion_version}.\n\n"
        f"- drift share {drift.drift_share:.2f}; dataset drift: {'yes' if drift.dataset_drift else 'no'}\n"
        f"- retrain signal: {'yes' if drift.retrain_signal else 'no'}\n"
        f"- drifted features: {features}\n"
    )


def render_model_card(card: ModelCard) -> str:
    """The card as markdown, section by section."""
    decision = card.decision.upper()
    served = f"v{card.champion_after}" if card.champion_after is not None else "no version"
    run = (
        f"[{card.mlflow_run_id}]({card.mlflow_run_url})"
        if card.mlflow_run_url
        else card.mlflow_run_id
    )
    version_link = (
        f"[{card.model_name} v{card.version}]({card.mlflow_model_version_url})"
        if card.mlflow_model_version_url
        else f"{card.model_name} v{card.version}"
    )
    card_link = (
        f"[model_card.md]({card.mlflow_card_url})"
        if card.mlflow_card_url
        else f"`runs:/{card.mlflow_run_id}/model_card.md`"
    )
    launched = f" ({card.launched_by})" if card.launched_by else ""
    categorical = set(card.categorical)
    feature_list = ", ".join(
        f"`{name}`{' (categorical)' if name in categorical else ''}" for name in card.features
    )
    slices = (
        f"### By `{card.slice_column}`\n\n{markdown_table(card.slices)}\n"
        if not card.slices.is_empty()
        else "_No slice column: set `quality.slice_column` in the spec._\n"
    )
    limitations = "\n".join(f"- {line}" for line in known_limitations(card))
    return f"""# Model card: {card.title}

| | |
|---|---|
| spec | `{card.spec_name}` |
| owner | {card.owner} |
| task | {card.task}: predicts `{card.target}` |
| decision | **{decision}**; champion after it: {served} |
| test {card.metric_name} | {_number(card.test_metric)} (baseline {_number(card.baseline.get(card.metric_name))}) |
| trained by | Dagster run `{card.dagster_run_id}`, trigger `{card.trigger}`{launched}, actor `{card.actor}` |
| MLflow run | {run} |
| MLflow model version | {version_link} |
| this card in MLflow | {card_link} |
| code | git `{card.git_commit}`, spec fingerprint `{card.spec_fingerprint}` |
| card generated | {card.generated_at} |

{card.description + chr(10) + chr(10) if card.description else ""}## Intended use

{_intended_use(card)}

## Training and test data

Training set `{card.training_set_uri}` at Delta version **{card.training_set_version}**
(data version `{card.training_set_data_version}`). The model was fitted on `train`, stopped
early on `valid` and judged on `test`; all three splits are rows of this one version.

| split | window |
|---|---|
{"".join(f"| {name} | {card.windows[name]} |{chr(10)}" for name in SPLITS if name in card.windows)}
{card.splits}

## Features

{len(card.features)} features: {feature_list}.

## Metrics

On {card.test_rows} test rows, against a trivial baseline:

{_metrics_table(card)}

{slices}
## Comparison with the champion

{_champion_section(card)}
## Drift at training time

{_drift_section(card)}
## Known limitations

{limitations}

## Promotion decision

**{decision}** by `{card.actor}` (trigger `{card.trigger}`). Champion before: {f"v{card.champion_before}" if card.champion_before else "none"}; after: {served}.

{card.evidence}
"""
