"""The review as markdown, fit for a pull-request comment.

The verdict comes first, then the gate's checks, the metrics of both models
on the same rows, the feature list, the row counts, the data checks and the
drift of the training window. Nothing in it depends on the machine or the
clock (no paths, no timings), so the same change on the same sample gives
the same report.
"""

from __future__ import annotations

import math

import polars as pl

from mlops_assets.evaluation import PRIMARY_METRIC, markdown_table
from mlops_assets.review.outcome import Review, ReviewFailure
from mlops_assets.review.reviewed_model import CheckOutcome, RowCounts, Training

DRIFT_ROWS = 10
THROWAWAY_GATE_ASSET = "promotion"
"""The throwaway home's own promotion has no champion; the review's gate replaces it."""


def _number(value: float | None, signed: bool = False) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def _count(value: int | None) -> str:
    return "n/a" if value is None else f"{value:,}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _names(features: list[str]) -> str:
    return ", ".join(f"`{f}`" for f in features) or "none"


def _heading(review: Review) -> str:
    name = f"`{review.spec.name}`"
    if not review.change.trained:
        return f"### {name}: does not pass (the changed spec does not train)"
    return f"### {name}: {'passes' if review.passed else 'does not pass'}"


def _summary(review: Review) -> list[str]:
    base = review.base
    lines = []
    if not review.change.trained:
        reason = review.change.error or "no model was registered"
        lines.append(f"The changed spec produced no model on the sample: {reason}.")
    else:
        against = base.description if base.model is not None else "no base"
        decision = "promote" if review.passed else "reject"
        lines.append(
            f"The production promotion gate would **{decision}** the changed spec's model "
            f"(base: {against})."
        )
    lines.append("")
    sample = review.sample.describe()
    if base.model is None:
        lines.append(
            f"Trained on {sample} in a throwaway Dagster home and MLflow store. "
            f"{_sentence(base.note)} The model is judged against the baseline and the floor only."
        )
    elif base.training is None:
        lines.append(
            f"Trained on {sample} in a throwaway Dagster home and MLflow store, and compared with "
            f"{base.description}, which scores the change's test rows it never trained on."
        )
    elif base.same_spec:
        lines.append(
            f"Trained on {sample} in a throwaway Dagster home and MLflow store. "
            f"{_sentence(base.note)}"
        )
    else:
        lines.append(
            f"Trained on {sample}, each version in its own throwaway Dagster home and MLflow "
            f"store: the change, and {base.description} ({base.note}) as the base, "
            "in the champion's role."
        )
    if base.spec is not None and not base.same_spec:
        lines += ["", f"Spec fields changed: {_names(review.spec_changes)}."]
    return lines


def _sentence(text: str) -> str:
    return f"{text[0].upper()}{text[1:]}." if text else ""


def _gate(review: Review) -> list[str]:
    if review.verdict is None:
        return []
    rows = [[c.name, "yes" if c.passed else "**no**", c.detail] for c in review.verdict.checks]
    return ["#### Gate", "", _table(["check", "passed", "detail"], rows)]


def _metrics(review: Review) -> list[str]:
    if review.base.model is None or review.shared is None:
        return []
    lines = ["#### Metrics on the same rows", ""]
    shared = review.shared
    if shared.rows.height == 0:
        return [*lines, f"No rows both models can be judged on: {shared.note or 'none left'}."]
    lines.append(f"{shared.rows.height:,} rows: {shared.described}.")
    if review.metrics.height:
        primary, _ = PRIMARY_METRIC[review.spec.target.task]
        rows = [
            [
                f"{row['metric']} (gate)" if row["metric"] == primary else row["metric"],
                _number(row["base"]),
                _number(row["change"]),
                _number(row["difference"], signed=True),
            ]
            for row in review.metrics.iter_rows(named=True)
        ]
        lines += ["", _table(["metric", "base", "change", "difference"], rows)]
    elif review.comparison is not None:
        c = review.comparison
        rows = [
            [
                "primary (gate)",
                _number(c.champion_metric),
                _number(c.challenger_metric),
                _number(c.challenger_metric - c.champion_metric, signed=True),
            ]
        ]
        lines += ["", _table(["metric", "base", "change", "difference"], rows)]
    return lines


def _features(review: Review) -> list[str]:
    model = review.change.model
    if model is None:
        return []
    if review.features is None:
        return ["#### Features", "", f"{len(model.features)} features: {_names(model.features)}."]
    f = review.features
    rows = [
        ["added", str(len(f.added)), _names(f.added)],
        ["removed", str(len(f.removed)), _names(f.removed)],
        ["kept", str(len(f.kept)), _names(f.kept)],
    ]
    return ["#### Features", "", _table(["", "count", "features"], rows)]


ROW_LABELS = (
    ("sampled", "sampled from the source"),
    ("ingested", "ingested (raw)"),
    ("rejected", "rejected by the rules"),
    ("train", "train"),
    ("valid", "valid"),
    ("test", "test"),
)


def _rows(review: Review) -> list[str]:
    base = review.base.training if not review.base.same_spec else None
    counts: list[tuple[str, RowCounts]] = []
    if base is not None:
        counts.append(("base", base.rows))
    counts.append(("change", review.change.rows))
    rows = [[label, *(_count(getattr(c, field)) for _, c in counts)] for field, label in ROW_LABELS]
    return ["#### Rows", "", _table(["rows", *(name for name, _ in counts)], rows)]


def _outcome(check: CheckOutcome | None) -> str:
    if check is None:
        return "not run"
    if check.passed:
        return "pass"
    return "**fail**" if check.blocking else "**fail** (warn)"


def _data_checks(review: Review) -> list[str]:
    change = review.change
    base: Training | None = review.base.training if not review.base.same_spec else None
    names = [c.name for c in change.checks if c.asset != THROWAWAY_GATE_ASSET]
    if base is not None:
        names += [
            c.name for c in base.checks if c.asset != THROWAWAY_GATE_ASSET and c.name not in names
        ]
    if not names:
        return []
    header = ["check", *(["base"] if base else []), "change", "detail (change)"]
    rows = []
    for name in names:
        mine = change.check(name)
        cells = [f"`{name}`"]
        if base is not None:
            cells.append(_outcome(base.check(name)))
        cells += [_outcome(mine), mine.description if mine else ""]
        rows.append(cells)
    return ["#### Data checks", "", _table(header, rows)]


def _drift(review: Review) -> list[str]:
    drift = review.drift
    if drift is None:
        return []
    report = drift.report
    drifted = int(report["drifted"].sum()) if report.height else 0
    lines = [
        "#### Drift of the training window",
        "",
        f"The change's train rows against the base's: {drifted} of {report.height} features "
        f"drifted (share {drift.share:.2f}; dataset drift: {'**yes**' if drift.dataset_drift else 'no'}).",
    ]
    if drift.not_compared:
        lines += ["", f"Not in the base's training rows: {_names(drift.not_compared)}."]
    if report.height:
        shown = report.head(DRIFT_ROWS).select(
            pl.col("column").alias("feature"), "method", "score", "threshold", "drifted", "psi"
        )
        lines += ["", markdown_table(shown)]
        if report.height > DRIFT_ROWS:
            lines.append(f"\n_{report.height - DRIFT_ROWS} more features, none more severe._")
    return lines


def render(review: Review) -> str:
    """The whole report of a review that ran."""
    sections = [
        [_heading(review), "", *_summary(review)],
        _gate(review),
        _metrics(review),
        _features(review),
        _rows(review),
        _data_checks(review),
        _drift(review),
    ]
    return "\n\n".join("\n".join(section) for section in sections if section) + "\n"


def render_failure(failure: ReviewFailure) -> str:
    """The report of a review that could not run: what stopped it."""
    return (
        f"### `{failure.spec_name}`: the review could not run\n\n"
        f"{failure.reason}\n\nNo model was trained or judged.\n"
    )
