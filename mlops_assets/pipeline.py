"""One spec in, one Dagster asset group out."""

from __future__ import annotations

import dagster as dg

from mlops_assets.assets.backtest import build_backtest_asset
from mlops_assets.assets.drift import build_drift_asset
from mlops_assets.assets.evaluation import build_evaluation_asset
from mlops_assets.assets.features import build_features_asset
from mlops_assets.assets.inference_log import build_inference_log_asset
from mlops_assets.assets.model import build_model_asset
from mlops_assets.assets.naming import SpecAssets
from mlops_assets.assets.online_drift import build_online_drift_asset
from mlops_assets.assets.predictions import build_predictions_asset
from mlops_assets.assets.promotion import build_promotion_assets
from mlops_assets.assets.raw import build_raw_asset
from mlops_assets.assets.training_set import build_training_set_asset
from mlops_assets.assets.validated import build_validated_assets
from mlops_assets.specs.model import DatasetSpec

ON_DEMAND_ASSETS = ("policy_backtest", "inference_log", "online_drift")


def build_spec_assets(spec: DatasetSpec) -> list[dg.AssetsDefinition]:
    """raw -> validated (+ rejected_rows) -> features -> training_set -> model -> evaluation -> promotion
    (+ model_card, in the gate's step), features + champion -> predictions -> drift, and the
    online service's traffic: inference_log -> online_drift."""
    names = SpecAssets(spec)
    return [
        build_raw_asset(names),
        build_validated_assets(names),
        build_features_asset(names),
        build_training_set_asset(names),
        build_model_asset(names),
        build_evaluation_asset(names),
        build_promotion_assets(names),
        build_predictions_asset(names),
        build_drift_asset(names),
        build_inference_log_asset(names),
        build_online_drift_asset(names),
    ] + ([build_backtest_asset(names)] if spec.is_partitioned else [])


def materialized_on_bootstrap(
    spec: DatasetSpec, assets: list[dg.AssetsDefinition]
) -> list[dg.AssetKey]:
    """Every asset of the spec but those with nothing to read on a fresh platform: the policy
    backtest, replayed on demand (`mlops backtest`), and the online service's inference log and
    its drift, which need traffic (`mlops serve`)."""
    names = SpecAssets(spec)
    on_demand = {names.key(name) for name in ON_DEMAND_ASSETS}
    return [key for asset in assets for key in asset.keys if key not in on_demand]
