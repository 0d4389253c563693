"""Batch-scoring benchmark: the platform's scoring path against raw `booster.predict`.

The `predictions` asset scores every feature row with `score_frame` (the version's booster
on its encoded matrix, in 10,000-row mini-batches, timed per batch). This script trains the
flights booster once on the year's rows, then scores the same feature rows three ways,
`--repeat` times each, and prints rows per second (median) and the ratio to the fastest:

* `booster.predict` on a matrix encoded beforehand (the raw floor the issue names);
* `score_frame`, what the platform runs: encoding included;
* the MLflow pyfunc wrapper in 10,000-row pandas batches (the path before issue 10), for scale.

Run from the project root: `.venv/bin/python benchmarks/batch_scoring.py [--repeat 5] [--months 12]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from collections.abc import Callable

PYFUNC_BATCH_ROWS = 10_000


def progress(message: str) -> None:
    """One progress line on stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def timed(function: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (all threads) of `repeat` calls; CPU time
    moves little when other processes share the cores, wall time moves a lot."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def main(argv: list[str] | None = None) -> int:
    """Train once, score three ways, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--months", type=int, default=12, choices=range(1, 13), metavar="1..12")
    args = parser.parse_args(argv)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())

    import numpy as np
    import polars as pl

    from mlops_assets.features.build import build_features
    from mlops_assets.ingest.raw_batch import read_raw_batch
    from mlops_assets.serving.registered import LoadedModel
    from mlops_assets.serving.scoring import score_frame
    from mlops_assets.specs import find_spec
    from mlops_assets.training.packaged_model import TabularLightGBM, to_model_input
    from mlops_assets.training.split import SPLIT, assign_split
    from mlops_assets.training.trainer import feature_candidates, train_booster
    from mlops_assets.validation.rules import validate_batch

    spec = find_spec("flights")
    end = dt.datetime(2013 + args.months // 12, args.months % 12 + 1, 1)
    progress("ingest, validate, features")
    raw = read_raw_batch(spec, (dt.datetime(2013, 1, 1), end), None).frame
    features = build_features(spec, validate_batch(spec, raw).valid).frame
    training_set, _ = assign_split(spec, features)
    progress(f"train on {training_set.height:,} rows")
    frame = training_set.filter(pl.col(SPLIT) != "test")
    trained = train_booster(spec, frame, feature_candidates(spec, frame))
    model = LoadedModel(
        "flights", "bench", trained.booster, trained.encoding, trained.best_iteration
    )
    matrix = trained.encoding.matrix(features)
    wrapped = TabularLightGBM()
    wrapped.booster, wrapped.encoding = trained.booster, trained.encoding
    wrapped.best_iteration = trained.best_iteration
    categorical = trained.encoding.categorical

    def raw_predict() -> np.ndarray:
        return trained.booster.predict(matrix, num_iteration=trained.best_iteration)

    def platform() -> np.ndarray:
        return score_frame(model, features).scores

    def pyfunc() -> np.ndarray:
        return np.concatenate(
            [
                np.asarray(
                    wrapped.predict(
                        None,
                        to_model_input(
                            features.slice(offset, PYFUNC_BATCH_ROWS),
                            trained.encoding.features,
                            categorical,
                        ),
                    )
                )
                for offset in range(0, features.height, PYFUNC_BATCH_ROWS)
            ]
        )

    reference = raw_predict()
    assert np.array_equal(platform(), reference), "score_frame and booster.predict disagree"
    assert np.allclose(pyfunc(), reference), "the pyfunc wrapper and booster.predict disagree"
    cases = {
        "`booster.predict` on a pre-encoded matrix": raw_predict,
        "`score_frame` (the platform, encoding included)": platform,
        "pyfunc wrapper, 10k-row pandas batches (before)": pyfunc,
    }
    results = {}
    for name, function in cases.items():
        progress(f"time {name}")
        results[name] = timed(function, args.repeat)
    wall0, cpu0 = results["`booster.predict` on a pre-encoded matrix"]
    print(
        f"| path ({features.height:,} rows, median of {args.repeat}) | wall s | rows/s | "
        "wall ratio | CPU s | CPU ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, (wall, cpu) in results.items():
        print(
            f"| {name} | {wall:.3f} | {features.height / wall:,.0f} | {wall / wall0:.2f}x | "
            f"{cpu:.3f} | {cpu / cpu0:.2f}x |"
        )
    print(
        f"\nSame scores from all three paths. Machine: nproc {os.cpu_count()}, "
        f"load average at start {load}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
