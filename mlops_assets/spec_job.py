"""One spec's assets as a job Dagster can rebuild by name: what `mlops run` executes.

`dg.materialize` runs in process but keeps every output of the run in memory
until it returns (its output capture), so a run's peak memory was the sum of
its tables. `dg.execute_job` on a reconstructable job runs the same steps in
this process with the in-process executor and keeps nothing but events: each
table is released once its IO manager has written it.
"""

from __future__ import annotations

import dagster as dg

from mlops_assets.pipeline import build_spec_assets
from mlops_assets.platform_resources import build_resources
from mlops_assets.specs import find_spec


def spec_job(spec_name: str) -> dg.JobDefinition:
    """Every asset of one spec (and nothing of the others), executed in this process."""
    name = f"{spec_name}__mlops_run"
    definitions = dg.Definitions(
        assets=build_spec_assets(find_spec(spec_name)),
        jobs=[dg.define_asset_job(name, selection=dg.AssetSelection.all())],
        resources=build_resources(),
        executor=dg.in_process_executor,
    )
    return definitions.resolve_job_def(name)


def reconstructable_spec_job(spec_name: str):
    """A pointer `dg.execute_job` can rebuild the spec's job from."""
    return dg.build_reconstructable_job(__name__, spec_job.__name__, (spec_name,))
