"""`mlops review`: train a spec change on a sample, compare it with its base, and judge it.

What the change is compared with:

- `--base REF`: the spec file as committed at REF, trained the same way on the
  same sample;
- no `--base`, `MLFLOW_TRACKING_URI` set: the champion of that tracking store;
- neither: the spec as committed at `HEAD` (the working tree's edit is the change).

A spec that is unchanged at the base is trained once and compared with itself.
Exit codes: 0 the gate would promote, 1 it would reject (or the change does not
train), 2 the review itself could not run.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

from mlops_assets.review.champion import current_champion, store_options
from mlops_assets.review.comparison import (
    SharedRows,
    feature_changes,
    gate_verdict,
    metrics_on_rows,
    shared_rows,
    training_window_drift,
)
from mlops_assets.review.markdown import render, render_failure
from mlops_assets.review.outcome import Base, Review, ReviewFailure
from mlops_assets.review.platform import RunSpec, train_on_sample
from mlops_assets.review.reviewed_model import Training
from mlops_assets.review.sampling import (
    DEFAULT_SEED,
    RowSample,
    SampleError,
    choose_rows,
    read_source,
    write_sample,
)
from mlops_assets.review.spec_versions import (
    DEFAULT_BASE,
    ChangedSpec,
    ReviewError,
    SpecAtRef,
    base_spec_path,
    changed_fields,
    find_changed_spec,
    spec_at_ref,
)
from mlops_assets.specs.model import DatasetSpec


@dataclass(frozen=True)
class ReviewRequest:
    """The command line of one review."""

    spec_name: str
    base_ref: str | None = None
    fraction: float = 0.2
    seed: int = DEFAULT_SEED
    spec_file: Path | None = None


def _progress(message: str) -> None:
    print(f"[mlops review {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _same_reading(a: DatasetSpec, b: DatasetSpec) -> bool:
    """Whether two specs read their source identically (so one sample file serves both)."""
    return a.source == b.source and set(a.columns) == set(b.columns)


def _read(spec: DatasetSpec) -> pl.DataFrame:
    try:
        return read_source(spec)
    except (OSError, ValueError) as error:
        raise ReviewError(str(error).strip().splitlines()[0]) from error


class _Reviewer:
    """One review's throwaway folder, shared by both trainings."""

    def __init__(self, request: ReviewRequest, folder: Path, run: RunSpec) -> None:
        self.request, self.folder, self.run = request, folder, run

    def train(
        self, spec: DatasetSpec, label: str, source: pl.DataFrame, sample: RowSample
    ) -> Training:
        copy = write_sample(spec, source, sample, self.folder / label)
        _progress(f"training the {label} ({spec.name}) on {sample.describe()}")
        return train_on_sample(
            copy, spec.source.uri, self.folder / label, label, sample.rows, self.run
        )

    def base_at_ref(self, changed: ChangedSpec) -> SpecAtRef:
        request = self.request
        path = base_spec_path(request.spec_name, changed, request.spec_file)
        return spec_at_ref(path, request.base_ref or DEFAULT_BASE, request.base_ref is not None)

    def train_base(
        self, at: SpecAtRef, changed: ChangedSpec, source: pl.DataFrame, sample: RowSample
    ) -> Base:
        """The spec at the ref trained on the change's sample rows (read with its own rules)."""
        assert at.spec is not None
        base_source = source if _same_reading(at.spec, changed.spec) else _read(at.spec)
        same_rows = base_source.height == sample.source_rows
        note = at.note
        if not same_rows:
            note += (
                f"; its source has {base_source.height:,} rows, not {sample.source_rows:,}: "
                "sampled on its own, so the models share no rows"
            )
            sample = choose_rows(at.spec, base_source, sample.fraction, sample.seed)
        training = self.train(at.spec, "base", base_source, sample)
        if training.model is None:
            note = f"{at.note} does not train on the sample ({training.error or 'no model'})"
        return Base(at.label, note, at.spec, training, training.model, same_rows=same_rows)

    def review(self, tracking_uri: str | None) -> Review:
        """Find both versions first (a wrong ref stops the review before any training), then train."""
        request = self.request
        changed = find_changed_spec(request.spec_name, request.spec_file)
        at, champion = None, None
        if request.base_ref is None and tracking_uri:
            champion = current_champion(changed.spec, tracking_uri, store_options())
        else:
            at = self.base_at_ref(changed)
        source = _read(changed.spec)
        sample = choose_rows(changed.spec, source, request.fraction, request.seed)
        change = self.train(changed.spec, "change", source, sample)
        model_name = f"`{changed.spec.model_name}`"
        if at is None:
            base = (
                Base(f"{champion.label} of {model_name}", model=champion)
                if champion is not None
                else Base(f"the champion of {model_name}", note=f"{model_name} has no champion")
            )
        elif at.spec is None:
            base = Base(at.label, note=at.note)
        elif at.spec == changed.spec:
            note = f"{at.note} is the same spec: its model is compared with itself"
            base = Base(at.label, note, at.spec, change, change.model, same_spec=True)
        else:
            base = self.train_base(at, changed, source, sample)
        return judge_change(changed.spec, sample, change, base)


def judge_change(spec: DatasetSpec, sample: RowSample, change: Training, base: Base) -> Review:
    """Everything the review reports, from the two trainings."""
    spec_changes = changed_fields(base.spec, spec) if base.spec is not None else []
    review = Review(spec, sample, change, base, spec_changes=spec_changes)
    model = change.model
    if model is None:
        return review
    if base.model is None:
        return replace(review, verdict=gate_verdict(spec, model, None, None))
    shared = (
        shared_rows(model, base.model)
        if base.same_rows
        else SharedRows(pl.DataFrame(), "", base.note)
    )
    comparison, metrics = metrics_on_rows(spec, model, base.model, shared)
    return replace(
        review,
        features=feature_changes(model, base.model),
        shared=shared,
        comparison=comparison,
        metrics=metrics,
        drift=training_window_drift(spec, model, base.model),
        verdict=gate_verdict(spec, model, base.model, comparison),
    )


def review_spec(
    request: ReviewRequest, run: RunSpec, tracking_uri: str | None = None
) -> Review | ReviewFailure:
    """Run one review in a throwaway folder; a review that cannot run says why."""
    tracking_uri = (
        tracking_uri if tracking_uri is not None else os.environ.get("MLFLOW_TRACKING_URI")
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mlops-review-") as folder:
        try:
            outcome = _Reviewer(request, Path(folder), run).review(tracking_uri)
        except (ReviewError, SampleError) as error:
            return ReviewFailure(request.spec_name, str(error))
        except Exception as error:
            traceback.print_exc()
            first = (str(error).strip().splitlines() or [""])[0]
            return ReviewFailure(request.spec_name, f"{type(error).__name__}: {first}")
    _progress(f"{request.spec_name}: reviewed in {time.perf_counter() - started:.0f} s")
    return outcome


def run_review(request: ReviewRequest, run: RunSpec, markdown: Path | None) -> int:
    """Review, print the report, write it to `markdown` if given; return the exit code."""
    outcome = review_spec(request, run)
    text = render(outcome) if isinstance(outcome, Review) else render_failure(outcome)
    print(text)
    if markdown is not None:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(text)
    return outcome.exit_code
