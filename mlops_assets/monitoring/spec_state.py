"""What the exporter knows about one spec at one refresh: plain values, no I/O."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Champion:
    """The registered version the `champion` alias points at, and its recorded test metric."""

    model_name: str
    version: int
    test_metric: float | None


@dataclass(frozen=True)
class Validation:
    """The latest validated window: how many rows passed, how many were rejected, and the share
    of rows that broke a rule (a missing label alone does not count): what
    quality.max_rejected_share limits."""

    valid_rows: int | None
    rejected_rows: int
    rule_breaking_ratio: float


@dataclass(frozen=True)
class ScoreHistogram:
    """Rows per score bucket of one scoring run (per-bucket counts, upper bounds ascending)."""

    upper_bounds: list[float]
    counts: list[int]

    def ratios(self) -> list[tuple[str, float]]:
        """(upper bound, share of the run's rows in that bucket) pairs: the run's distribution.

        Each scoring run replaces the previous one, so this is a snapshot (gauges), never a
        Prometheus histogram, whose bucket counts may only grow."""
        total = sum(self.counts)
        return [
            (f"{float(bound):g}", count / total if total else 0.0)
            for bound, count in zip(self.upper_bounds, self.counts, strict=True)
        ]


@dataclass(frozen=True)
class Scoring:
    """The latest scoring run (the predictions asset): volume, speed and what came out."""

    finished_at: float
    model_version: int | None
    rows: int | None
    duration_seconds: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    unseen_category_values: int | None
    out_of_range_values: int | None
    score_quantiles: dict[str, float] = field(default_factory=dict)
    score_mean: float | None = None
    class_shares: dict[str, float] = field(default_factory=dict)
    histogram: ScoreHistogram | None = None


@dataclass(frozen=True)
class Drift:
    """The latest drift window, plus the realized metric of recent partitions that have labels."""

    finished_at: float
    drift_share: float | None
    dataset_drift: bool | None
    retrain_signal: bool | None
    drifted_in_a_row: int | None
    prediction_drift_score: float | None
    realized_metric: float | None
    feature_severity: dict[str, float] = field(default_factory=dict)
    realized_by_partition: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SpecState:
    """Everything exported for one spec; a part is None until its asset has materialized."""

    spec: str
    metric: str
    metric_floor: float | None
    rejected_share_limit: float
    champion: Champion | None = None
    validation: Validation | None = None
    scoring: Scoring | None = None
    drift: Drift | None = None
    runs_finished: dict[str, int] = field(default_factory=dict)
    runs_active: dict[str, int] = field(default_factory=dict)
