"""What an analyst reads in the Dagster UI, checked in headless Chromium against the real webserver.

The slice of the default flights pipeline is materialized once (tests/ui/conftest.py); every
expected value here is read back from the Dagster instance or the asset definitions, so the
pages are checked against what the platform actually recorded.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import time

import dagster as dg
import pytest
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from mlops_assets.evaluation import PRIMARY_METRIC
from mlops_assets.pipeline import build_spec_assets
from tests.conftest import ROOT
from tests.ui.conftest import (
    BIN,
    BROKEN_SPEC,
    LOCATION,
    SCREENSHOTS,
    MaterializedSlice,
    save_screenshot,
)

pytestmark = pytest.mark.slow
MATERIALIZE = re.compile(r"\bMaterialize$")  # the button's name also holds its icon's label
NO_PERMISSION = re.compile("do not have permission to materialize")
BACKTEST_SECONDS = 600
LAUNCH_SECONDS = 60
MATERIALIZE_GROUP = re.compile(r"\bMaterialize( all)?$")  # "all" when the group has several

# The lineage graph draws each edge as an SVG path from the middle of the upstream node's
# right side to the middle of the downstream node's left side; nodes are foreignObjects.
GRAPH_EDGES_JS = """() => {
  const nodes = [...document.querySelectorAll('svg foreignObject')].map((node) => {
    const label = node.querySelector('[class*="assetName"]') || node;
    const x = +node.getAttribute('x'), y = +node.getAttribute('y');
    const w = +node.getAttribute('width'), h = +node.getAttribute('height');
    return {name: label.textContent.trim(), right: x + w, left: x, middle: y + h / 2};
  });
  const nearest = (px, py, side) => {
    let best = null, distance = Infinity;
    for (const node of nodes) {
      const d = Math.abs(node[side] - px) + Math.abs(node.middle - py);
      if (d < distance) { best = node; distance = d; }
    }
    return distance < 20 ? best.name : null;
  };
  const edges = [...document.querySelectorAll('svg path[marker-end]')].map((path) => {
    const n = path.getAttribute('d').match(/-?[0-9.]+/g).map(Number);
    return [nearest(n[0], n[1], 'right'), nearest(n[n.length - 2] + 5, n[n.length - 1], 'left')];
  });
  return {nodes: nodes.map((n) => n.name), edges};
}"""


def must_see(locator: Locator, what: str) -> Locator:
    """The first element the locator finds, once visible; else a failure naming what is missing."""
    try:
        locator.first.wait_for(state="visible")
    except PlaywrightTimeout:
        raise AssertionError(f"{what}: not shown on {locator.page.url}") from None
    return locator.first


def must_be(locator: Locator, enabled: bool, what: str) -> None:
    """Wait for a control to settle enabled (or disabled); else a failure naming it."""
    try:
        if enabled:
            expect(locator).to_be_enabled()
        else:
            expect(locator).to_be_disabled()
    except AssertionError:
        state = "enabled" if enabled else "disabled"
        raise AssertionError(f"{what}: not {state} on {locator.page.url}") from None


def metadata_row(page: Page, key: str) -> Locator:
    """The row of one metadata entry in an asset's metadata table (a column of the same name in
    the table's column schema, listed above it, is not that row)."""
    row = page.locator("tr").filter(has=page.get_by_text(key, exact=True)).last
    return must_see(row, f"metadata row `{key}`")


def open_asset(page: Page, server_url: str, asset: str, view: str | None = None) -> None:
    """Go to an asset's page (callers then wait for the element they check)."""
    page.goto(f"{server_url}/assets/flights_slice/{asset}" + (f"?view={view}" if view else ""))


def expected_lineage(materialized: MaterializedSlice) -> tuple[set[str], set[tuple[str, str]]]:
    """Every asset of the spec and every upstream edge between them, from the definitions
    (the policy backtest is in its own group, `<spec>_backtest`; the group's graph still draws
    it, as a neighbour from another group)."""
    nodes: set[str] = set()
    edges: set[tuple[str, str]] = set()
    for assets in build_spec_assets(materialized.spec):
        for key in assets.keys:
            nodes.add(key.path[-1])
            edges |= {(upstream.path[-1], key.path[-1]) for upstream in assets.asset_deps[key]}
    return nodes, edges


def test_asset_graph_shows_every_asset_of_the_spec_with_its_lineage_edges(
    page: Page, materialized_slice: MaterializedSlice
):
    nodes, edges = expected_lineage(materialized_slice)
    assert len(nodes) >= 10 and len(edges) >= len(nodes) - 1
    page.goto(f"{materialized_slice.full.url}/locations/{LOCATION}/asset-groups/flights_slice")
    for name in sorted(nodes):
        must_see(page.locator("svg foreignObject").get_by_text(name, exact=True), f"node {name}")
    with contextlib.suppress(PlaywrightTimeout):  # the comparison below names missing edges
        page.wait_for_function(
            "count => document.querySelectorAll('svg path[marker-end]').length >= count",
            arg=len(edges),
        )
    shown = page.evaluate(GRAPH_EDGES_JS)
    assert set(shown["nodes"]) == nodes, f"graph nodes {sorted(shown['nodes'])}"
    drawn = {tuple(edge) for edge in shown["edges"]}
    assert not edges - drawn, f"lineage edges missing from the graph: {sorted(edges - drawn)}"
    assert not drawn - edges, f"edges the definitions do not have: {sorted(drawn - edges)}"


def test_model_page_shows_its_metrics_mlflow_run_link_and_model_version(
    page: Page, materialized_slice: MaterializedSlice
):
    metadata = materialized_slice.latest_metadata("model")
    metric = f"valid_{PRIMARY_METRIC[materialized_slice.spec.target.task][0]}"
    open_asset(page, materialized_slice.full.url, "model")
    version = metadata_row(page, "model_version")
    assert version.locator("td").last.inner_text().strip() == str(metadata["model_version"])
    assert repr(metadata[metric]) in metadata_row(page, metric).inner_text()
    assert (
        str(metadata["decision_threshold"]) in metadata_row(page, "decision_threshold").inner_text()
    )
    run_url = metadata["mlflow_run"]
    assert (
        run_url.startswith(f"{materialized_slice.mlflow_ui.url}/#/experiments/")
        and metadata["mlflow_run_id"] in run_url
    )
    must_see(
        metadata_row(page, "mlflow_run").locator(f'a[href="{run_url}"]'), "link to the MLflow run"
    )
    must_see(
        metadata_row(page, "mlflow_model_version").locator(
            f'a[href="{metadata["mlflow_model_version"]}"]'
        ),
        "link to the registered model version in MLflow",
    )


def test_promotion_page_lists_every_model_version_with_its_decision_and_alias(
    page: Page, materialized_slice: MaterializedSlice
):
    metadata = materialized_slice.latest_metadata("promotion")
    open_asset(page, materialized_slice.full.url, "promotion")
    table = must_see(metadata_row(page, "model_versions").locator("table"), "model_versions table")
    header = table.locator("th").all_inner_texts()
    assert header[:3] == ["version", "aliases", "gate"], f"model_versions header {header}"
    version = str(metadata["challenger_version"])
    must_see(
        table.locator("tr")
        .filter(has=page.get_by_text("champion", exact=True))
        .filter(has=page.get_by_text(version, exact=True)),
        f"v{version} holding the champion alias",
    )
    must_see(
        metadata_row(page, "mlflow_model_versions").locator(
            f'a[href="{metadata["mlflow_model_versions"]}"]'
        ),
        "link to the registered model's versions in MLflow",
    )


def test_evaluation_report_renders_tables_and_its_pictures_inline(
    page: Page, materialized_slice: MaterializedSlice
):
    metadata = materialized_slice.latest_metadata("evaluation")
    metric = PRIMARY_METRIC[materialized_slice.spec.target.task][0]
    open_asset(page, materialized_slice.full.url, "evaluation")
    for prefix in ("test", "baseline"):  # each figure once, 4 significant digits
        shown = metadata_row(page, f"{prefix}_{metric}").inner_text()
        assert repr(metadata[f"{prefix}_{metric}"]) in shown, shown
        assert len(repr(metadata[f"{prefix}_{metric}"]).strip("0.")) <= 4
    for report in ("calibration", "slices", "feature_importance"):
        table = must_see(metadata_row(page, report).locator("table"), f"{report} as a table")
        assert table.locator("tbody tr").count() >= 2, f"{report} table has no rows"
    pictures = ("roc_curve", "pr_curve", "calibration", "confusion_matrix", "feature_importance")
    for name in pictures:
        row = metadata_row(page, f"figure_{name}")
        assert row.get_by_text("[Show Markdown]").count() == 0, f"{name} hides behind a button"
        must_load(must_see(row.locator("img"), f"{name} picture"), name)
        save_element(row, f"evaluation_{name}")


def save_element(element, name: str) -> None:
    """One metadata row as tests/output/ui/<name>.png: the picture as a user meets it."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    element.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def must_load(image, name: str) -> None:
    """The <img> has loaded real pixels (from the MLflow server), not a broken-image icon."""
    with contextlib.suppress(PlaywrightTimeout):  # the assertion below reports the size
        image.scroll_into_view_if_needed()
        image.page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
        )
    width, height = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert width > 200 and height > 150, f"{name} did not load ({width}x{height})"


def test_drift_page_shows_per_feature_scores(page: Page, materialized_slice: MaterializedSlice):
    metadata = materialized_slice.latest_metadata("drift")
    severities = {
        k.removeprefix("drift_severity_"): v
        for k, v in metadata.items()
        if k.startswith("drift_severity_")
    }
    assert severities, "the drift asset recorded no per-feature scores"
    open_asset(page, materialized_slice.full.url, "drift")
    assert str(metadata["drift_share"]) in metadata_row(page, "drift_share").inner_text()
    table = must_see(metadata_row(page, "feature_drift").locator("table"), "feature_drift table")
    header = table.locator("th").all_inner_texts()
    assert header[:4] == ["column", "kind", "method", "score"], f"feature_drift header {header}"
    for feature, severity in severities.items():
        must_see(
            table.locator("tr").filter(has=page.get_by_text(feature, exact=True)),
            f"drift row of feature {feature}",
        )
        assert repr(severity) in metadata_row(page, f"drift_severity_{feature}").inner_text()


def test_drift_page_draws_each_drifted_feature_and_the_metric_over_time(
    page: Page, materialized_slice: MaterializedSlice
):
    metadata = materialized_slice.latest_metadata("drift")
    drifted = [k for k in metadata if k.startswith("figure_drift_")]
    assert drifted, f"no drifted-feature picture; drifted: {metadata['drifted_features']}"
    open_asset(page, materialized_slice.full.url, "drift")
    for key in [*drifted, "figure_metric_over_time"]:
        row = metadata_row(page, key)
        must_load(must_see(row.locator("img"), key), key)
        save_element(row, f"drift_{key}")


def test_the_backtest_launches_from_its_own_group_and_shows_its_report(
    page: Page, materialized_slice: MaterializedSlice
):
    """Its group's Materialize button submits a run of the backtest alone, with the defaults.
    The instance queues runs (dagster.yaml `concurrency`) and no daemon runs here to start
    it, so the same defaults (warm-up: half of this three-week history) are run by
    `mlops backtest`; the finished report is tables and an inline picture."""
    key = dg.AssetKey(["flights_slice", "policy_backtest"])
    url = materialized_slice.full.url
    page.goto(f"{url}/locations/{LOCATION}/asset-groups/flights_slice_backtest")
    must_see(page.locator("svg foreignObject").get_by_text("policy_backtest", exact=True), "node")
    launch = must_see(page.get_by_role("button", name=MATERIALIZE_GROUP), "Materialize button")
    must_be(launch, True, "Materialize button of the backtest group")
    launch.click()
    deadline = time.monotonic() + LAUNCH_SECONDS
    runs = []
    while not runs and time.monotonic() < deadline:
        with materialized_slice.instance() as instance:
            runs = [r for r in instance.get_runs() if key in (r.asset_selection or ())]
        time.sleep(1)
    assert runs, "clicking Materialize launched no backtest run"
    [run] = runs
    assert run.asset_selection == {key}, run.asset_selection
    assert run.status in (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED), run.status
    assert not run.run_config.get("ops"), run.run_config  # the defaults, nothing to fill in

    backtest = subprocess.run(
        [str(BIN / "mlops"), "backtest", "--spec", "flights_slice", "--json"],
        cwd=ROOT,
        env=materialized_slice.env,
        capture_output=True,
        text=True,
        timeout=BACKTEST_SECONDS,
    )
    assert backtest.returncode == 0, backtest.stderr[-3000:]
    open_asset(page, url, "policy_backtest")
    for report in ("summary", "retrains"):
        must_see(metadata_row(page, report).locator("table"), f"backtest {report} as a table")
    row = metadata_row(page, "figure_metric_by_policy")
    must_load(must_see(row.locator("img"), "metric by policy"), "metric by policy")
    save_element(row, "backtest_figure_metric_by_policy")


@pytest.mark.parametrize("asset", ["validated", "drift"])
def test_checks_tab_lists_pandera_and_drift_checks_with_their_last_results(
    page: Page, materialized_slice: MaterializedSlice, asset: str
):
    key = dg.AssetKey(["flights_slice", asset])
    checks = sorted(
        spec.name
        for assets in build_spec_assets(materialized_slice.spec)
        for spec in assets.check_specs
        if spec.asset_key == key
    )
    assert len(checks) >= 3
    failed = {row["check"] for row in materialized_slice.summary["failed_checks"]}
    open_asset(page, materialized_slice.full.url, asset, view="checks")
    must_see(page.get_by_text(f"Checks ({len(checks)})"), f"checks count of {asset}")
    for check in checks:
        result = "Failed" if f"flights_slice/{asset}:{check}" in failed else "Succeeded"
        entry = page.locator("span").filter(has=page.locator(f'[title="{check}"]'))
        must_see(entry.filter(has_text=result), f"check {check} with last result {result}")


def test_read_only_webserver_shows_the_same_pages_but_cannot_launch_a_run(
    page: Page, materialized_slice: MaterializedSlice
):
    full, read_only = materialized_slice.full, materialized_slice.read_only
    version = str(materialized_slice.latest_metadata("model")["model_version"])
    open_asset(page, full.url, "model")
    must_see(metadata_row(page, "model_version").get_by_text(version, exact=True), "model version")
    materialize = must_see(page.get_by_role("button", name=MATERIALIZE), "Materialize button")
    must_be(materialize, True, "Materialize button of the full webserver")
    save_screenshot(page, "test_read_only_webserver_full_for_comparison")

    open_asset(page, read_only.url, "model")
    must_see(metadata_row(page, "model_version").get_by_text(version, exact=True), "model version")
    must_see(metadata_row(page, "mlflow_run").locator("a"), "MLflow run link (read-only)")
    materialize = must_see(
        page.get_by_role("button", name=MATERIALIZE), "Materialize button (read-only)"
    )
    must_be(materialize, False, "Materialize button of the read-only webserver")
    materialize.hover(force=True)
    must_see(page.get_by_text(NO_PERMISSION), "read-only tooltip on the Materialize button")
    page.goto(f"{read_only.url}/locations/{LOCATION}/asset-groups/flights_slice")
    must_see(page.locator("svg foreignObject").get_by_text("model", exact=True), "model node")
    materialize_all = must_see(
        page.get_by_role("button", name="Materialize all"), "Materialize all button (read-only)"
    )
    must_be(materialize_all, False, "Materialize all button of the read-only webserver")

    with materialized_slice.instance() as instance:
        runs_before = len(instance.get_runs())
    launch = read_only.graphql(
        """mutation Launch($params: ExecutionParams!) {
          launchPipelineExecution(executionParams: $params) {
            __typename ... on UnauthorizedError { message } ... on PythonError { message } } }""",
        {
            "params": {
                "selector": {
                    "repositoryLocationName": LOCATION,
                    "repositoryName": "__repository__",
                    "jobName": "__ASSET_JOB",
                    "assetSelection": [{"path": ["flights_slice", "model"]}],
                },
                "mode": "default",
            }
        },
    )
    assert launch["data"]["launchPipelineExecution"]["__typename"] == "UnauthorizedError", launch
    permissions = "{ permissions { permission value } }"
    allowed = [
        {p["permission"]: p["value"] for p in server.graphql(permissions)["data"]["permissions"]}[
            "launch_pipeline_execution"
        ]
        for server in (full, read_only)
    ]
    assert allowed == [True, False], "launch permission (full, read-only)"
    with materialized_slice.instance() as instance:
        assert len(instance.get_runs()) == runs_before


def test_a_broken_spec_file_is_shown_by_name_with_its_reason(
    page: Page, materialized_slice: MaterializedSlice
):
    """One team's invalid spec is an asset of its own in the UI; every other group still loads."""
    page.goto(f"{materialized_slice.full.url}/assets/broken_specs/{BROKEN_SPEC}")
    must_see(page.get_by_text("BROKEN SPEC FILE").first, "the broken spec's description")
    must_see(page.get_by_text("target.task").first, "the field that is wrong")
    page.goto(f"{materialized_slice.read_only.url}/locations/{LOCATION}/asset-groups/broken_specs")
    must_see(
        page.locator("svg foreignObject").get_by_text(BROKEN_SPEC, exact=True),
        "the broken spec in the read-only UI's asset graph",
    )
