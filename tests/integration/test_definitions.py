"""The asset graph as declared: every asset is documented and owned, and the graph matches its snapshot."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
import pytest

SNAPSHOT = Path(__file__).resolve().parents[1] / "snapshots" / "flights_asset_specs.json"


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from mlops_assets.definitions import build_definitions

    return build_definitions()


def _snapshot(defs: dg.Definitions) -> dict:
    graph = defs.resolve_asset_graph()
    specs = {}
    for spec in sorted(defs.resolve_all_asset_specs(), key=lambda s: s.key.to_user_string()):
        node = graph.get(spec.key)
        specs[spec.key.to_user_string()] = {
            "deps": sorted(d.asset_key.to_user_string() for d in spec.deps),
            "group": spec.group_name,
            "owners": list(spec.owners),
            "kinds": sorted(spec.kinds),
            "tags": {
                k: v for k, v in sorted(spec.tags.items()) if not k.startswith("dagster/kind/")
            },
            "code_version": spec.code_version,
            "partitions": str(spec.partitions_def) if spec.partitions_def else None,
            "checks": sorted(
                f"{k.name}{' (blocking)' if graph.get_check_spec(k).blocking else ''}"
                for k in node.check_keys
            ),
        }
    return specs


def test_every_asset_is_versioned_grouped_typed_owned_and_described(defs):
    specs = defs.resolve_all_asset_specs()
    assert len(specs) == 14
    for spec in specs:
        name = spec.key.to_user_string()
        assert spec.code_version, name
        # the policy backtest (a long replay) has its own group: "Materialize all" on the
        # spec's group never starts it
        expected = "flights_backtest" if spec.key.path[-1] == "policy_backtest" else "flights"
        assert spec.group_name == expected, name
        assert spec.kinds, name
        assert spec.owners == ["team:ml-platform"], name
        assert spec.description and len(spec.description) > 20, name


def test_materialize_all_on_the_spec_group_leaves_out_the_policy_backtest(defs):
    graph = defs.resolve_asset_graph()
    group = {k.path[-1] for k in dg.AssetSelection.groups("flights").resolve(graph)}
    assert "policy_backtest" not in group and {"raw", "model", "drift"} <= group
    backtest = dg.AssetSelection.groups("flights_backtest").resolve(graph)
    assert {k.path[-1] for k in backtest} == {"policy_backtest"}


def test_asset_graph_matches_snapshot(defs):
    current = _snapshot(defs)
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    assert current == json.loads(SNAPSHOT.read_text()), (
        "the asset graph changed; review the diff and rerun with UPDATE_SNAPSHOTS=1 to accept it"
    )


def test_blocking_checks_guard_the_model(defs):
    graph = defs.resolve_asset_graph()
    blocking = {
        key.name
        for node in graph.asset_nodes
        for key in node.check_keys
        if graph.get_check_spec(key).blocking
    }
    assert {
        "required_columns_present",
        "target_nulls_within_limit",
        "rejected_share_within_limit",
        "test_window_is_isolated",
        "challenger_beats_baseline",
        "challenger_meets_floor",
        "challenger_not_worse_than_champion",
    } <= blocking
