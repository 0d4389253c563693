"""`mlops review` as CI runs it: real trainings in throwaway homes, a real git history, real exits.

The churn table's label depends most on `tenure_months` (see `customers_table`:
its coefficient spans about 2.8 logits over the table, the plan's 1.2 and the
spend's well under one), so dropping it is the regression a review must catch.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, churn_spec, flights_slice_spec

pytestmark = pytest.mark.slow
MLOPS = str(Path(sys.executable).parent / "mlops")
ROWS = 3000


@dataclass
class SpecRepo:
    """A git repository holding spec files, and the environment a user reviews them in."""

    root: Path
    specs: Path
    data: Path
    user_home: Path

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(self.root), *args],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, **GIT_IDENTITY},
        )
        return done.stdout.strip()

    def write(self, spec: dict) -> Path:
        path = self.specs / f"{spec['name']}.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        return path

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            **os.environ,
            "DAGSTER_HOME": str(self.user_home),
            "MLOPS_BUILTIN_SPECS": "0",
            "MLOPS_SPECS_PATH": str(self.specs),
            **extra,
        }
        env.pop("MLFLOW_TRACKING_URI", None)
        return env | extra

    def review(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [MLOPS, "review", *args],
            capture_output=True,
            text=True,
            env=self.env(**env),
            cwd=self.root,
            timeout=900,
        )


GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Review Test",
    "GIT_AUTHOR_EMAIL": "review@example.com",
    "GIT_COMMITTER_NAME": "Review Test",
    "GIT_COMMITTER_EMAIL": "review@example.com",
}


@pytest.fixture
def repo(tmp_path: Path) -> SpecRepo:
    root, data = tmp_path / "repo", tmp_path / "data"
    specs = root / "specs"
    specs.mkdir(parents=True)
    data.mkdir()
    repo = SpecRepo(root, specs, data, tmp_path / "user_dagster_home")
    repo.git("init", "-q", "-b", "main")
    (root / "README.md").write_text("specs under review\n")
    return repo


def churn(repo: SpecRepo, **overrides) -> dict:
    path = repo.data / "customers.csv"
    return churn_spec(path, rows=None if path.exists() else ROWS, **overrides)


def table_row(report: str, first_cell: str) -> list[str]:
    """The cells of the markdown table row that starts with `first_cell`."""
    for line in report.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no table row `{first_cell}` in:\n{report}")


def assert_ran(done: subprocess.CompletedProcess[str], code: int) -> str:
    assert done.returncode == code, done.stdout[-3000:] + done.stderr[-5000:]
    return done.stdout


def test_a_harmless_change_passes_and_the_report_says_so(repo: SpecRepo, tmp_path: Path) -> None:
    repo.write(churn(repo))
    repo.commit("churn spec")
    training = {"num_boost_round": 60, "early_stopping_rounds": 10}
    repo.write(churn(repo, owner="team:growth", training=training))
    report_file = tmp_path / "out" / "churn.md"
    report = assert_ran(
        repo.review("--spec", "churn", "--sample", "0.5", "--markdown", str(report_file)), 0
    )
    assert report.startswith("### `churn`: passes\n")
    assert "The production promotion gate would **promote**" in report
    assert "base: the spec at `HEAD`" in report
    assert "Spec fields changed: `owner`, `training.num_boost_round`." in report
    assert "1,500 of 3,000 source rows (0.5 sample, seed 42)" in report
    _, _base, change, difference = table_row(report, "roc_auc (gate)")
    assert abs(float(difference)) <= 0.01 and float(change) > 0.6
    assert table_row(report, "removed") == ["removed", "0", "none"]
    assert table_row(report, "challenger_not_worse_than_champion")[1] == "yes"
    assert table_row(report, "ingested (raw)") == ["ingested (raw)", "1,500", "1,500"]
    assert table_row(report, "`validated:rejected_share_within_limit`")[1:3] == ["pass", "pass"]
    assert "0 of 3 features drifted" in report
    assert report_file.read_text() == report.rstrip("\n") + "\n"
    assert not repo.user_home.exists(), "the review must not touch the user's Dagster home"


def test_dropping_the_strongest_feature_is_a_regression_against_an_older_commit(
    repo: SpecRepo, tmp_path: Path
) -> None:
    """Two commits: the base, then the change; `--base` names the first by its sha."""
    repo.write(churn(repo))
    base_sha = repo.commit("churn spec")
    repo.write(churn(repo, exclude_columns=["tenure_months"]))
    repo.commit("drop tenure")
    report_file = tmp_path / "regression.md"
    report = assert_ran(
        repo.review(
            "--spec", "churn", "--base", base_sha, "--sample", "0.5", "--markdown", str(report_file)
        ),
        1,
    )
    assert report.startswith("### `churn`: does not pass\n")
    assert "would **reject**" in report and f"the spec at `{base_sha}`" in report
    assert "Spec fields changed: `exclude_columns`." in report
    assert table_row(report, "removed") == ["removed", "1", "`tenure_months`"]
    assert table_row(report, "added") == ["added", "0", "none"]
    _, base, change, difference = table_row(report, "roc_auc (gate)")
    assert float(difference) < -0.02 and float(change) < float(base)
    assert table_row(report, "challenger_not_worse_than_champion")[1] == "**no**"
    assert report_file.read_text().startswith("### `churn`: does not pass\n")


def test_a_spec_new_in_the_change_is_judged_on_the_baseline_and_floor(repo: SpecRepo) -> None:
    first = repo.commit("no specs yet")
    repo.write(churn(repo))
    report = assert_ran(repo.review("--spec", "churn", "--base", first, "--sample", "0.5"), 0)
    assert report.startswith("### `churn`: passes\n")
    assert f"`churn.yaml` does not exist at `{first}`: the spec is new." in report
    assert "judged against the baseline and the floor only" in report
    assert table_row(report, "challenger_not_worse_than_champion")[1] == "yes"
    assert "Metrics on the same rows" not in report


def test_a_review_that_cannot_run_exits_2_and_says_why(repo: SpecRepo, tmp_path: Path) -> None:
    repo.write(churn(repo))
    repo.commit("churn spec")
    report_file = tmp_path / "failed.md"
    done = repo.review("--spec", "churn", "--base", "no-such-ref", "--markdown", str(report_file))
    report = assert_ran(done, 2)
    assert report.startswith("### `churn`: the review could not run\n")
    assert "--base no-such-ref: git knows no such commit" in report
    assert report_file.read_text().startswith("### `churn`: the review could not run")
    assert "training the change" not in done.stderr
    missing = repo.review("--spec", "nope")
    assert assert_ran(missing, 2).startswith("### `nope`: the review could not run")


def test_a_spec_file_is_reviewed_against_the_history_of_the_loaded_spec(
    repo: SpecRepo, tmp_path: Path
) -> None:
    """`--spec-file`: an edited copy outside the repository; its base is the committed spec."""
    repo.write(churn(repo))
    repo.commit("churn spec")
    edited = tmp_path / "elsewhere" / "churn_edit.yaml"
    edited.parent.mkdir()
    edited.write_text(yaml.safe_dump(churn(repo, description="Edited copy."), sort_keys=False))
    report = assert_ran(
        repo.review("--spec", "churn", "--spec-file", str(edited), "--sample", "0.3"), 0
    )
    assert "the spec at `HEAD` (HEAD:churn.yaml) as the base" in report
    assert "Spec fields changed: `description`." in report
    wrong = repo.review("--spec", "other", "--spec-file", str(edited))
    assert "holds spec `churn`, not `other`" in assert_ran(wrong, 2)


def test_the_same_change_on_the_same_sample_gives_the_same_report(
    repo: SpecRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In one process, twice: every number of the report, and the environment put back."""
    from mlops_assets.cli import run_spec
    from mlops_assets.review.command import ReviewRequest, review_spec
    from mlops_assets.review.markdown import render

    repo.write(churn(repo))
    repo.commit("churn spec")
    repo.write(churn(repo, training={"num_boost_round": 40, "early_stopping_rounds": 5}))
    for name, value in repo.env().items():
        if name in ("DAGSTER_HOME", "MLOPS_BUILTIN_SPECS", "MLOPS_SPECS_PATH"):
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    request = ReviewRequest("churn", base_ref="HEAD", fraction=0.4, seed=11)
    first, second = review_spec(request, run_spec), review_spec(request, run_spec)
    assert render(first) == render(second)
    assert first.sample.rows == 1200 and list(first.sample.positions) == list(
        second.sample.positions
    )
    assert os.environ["DAGSTER_HOME"] == str(repo.user_home)
    assert not repo.user_home.exists()
    other = review_spec(ReviewRequest("churn", base_ref="HEAD", fraction=0.4, seed=12), run_spec)
    assert list(other.sample.positions) != list(first.sample.positions)


def test_the_champion_of_a_tracking_store_is_the_base_when_no_ref_is_given(
    repo: SpecRepo, tmp_path: Path
) -> None:
    """A platform with a champion in its MLflow store; the review registers nothing there."""
    from mlflow.tracking import MlflowClient

    store = f"sqlite:///{tmp_path / 'platform_mlflow' / 'mlflow.db'}"
    (tmp_path / "platform_mlflow").mkdir()
    platform = {
        "MLFLOW_TRACKING_URI": store,
        "MLFLOW_ARTIFACT_ROOT": (tmp_path / "platform_mlflow" / "artifacts").as_uri(),
        "MLOPS_DATA_ROOT": str(tmp_path / "platform_tables"),
    }
    repo.write(churn(repo))
    trained = subprocess.run(
        [MLOPS, "run", "--spec", "churn", "--json"],
        capture_output=True,
        text=True,
        env=repo.env(**platform),
        timeout=900,
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    report = assert_ran(repo.review("--spec", "churn", "--sample", "1", **platform), 0)
    assert "(base: champion v1 of `churn_model`)" in report
    assert "which scores the change's test rows it never trained on" in report
    shared = int(
        table_row(report, "challenger_not_worse_than_champion")[2]
        .split(" on ")[1]
        .split()[0]
        .replace(",", "")
    )
    assert shared > 300
    _, _base, _change, difference = table_row(report, "roc_auc (gate)")
    assert float(difference) == 0.0, "the whole table under the same spec is the champion's model"
    client = MlflowClient(store, store)
    assert [str(v.version) for v in client.search_model_versions("name='churn_model'")] == ["1"]


def test_a_flights_slice_is_sampled_within_each_day_and_reviewed(repo: SpecRepo) -> None:
    spec = flights_slice_spec()
    repo.write(spec)
    repo.commit("flights slice")
    spec["description"] = "Three weeks of flights, for the review test."
    spec["training"]["num_boost_round"] = 250
    repo.write(spec)
    report = assert_ran(repo.review("--spec", "flights_slice", "--sample", "0.3"), 0)
    assert report.startswith("### `flights_slice`: passes\n")
    assert "0.3 sample within each of its 21 windows" in report
    _, _base, _change, difference = table_row(report, "roc_auc (gate)")
    assert abs(float(difference)) <= 0.01
    assert "trained on rows up to 2013-01-" in report
    assert table_row(report, "`training_set:test_window_is_isolated`")[1:3] == ["pass", "pass"]


def test_make_review_specs_runs_the_real_review_under_a_spec_folder(
    repo: SpecRepo, tmp_path: Path
) -> None:
    """The workflow's own step: `make review-specs` with the spec in SPEC_DIRS, builtin specs on."""
    repo.write(churn(repo))
    base_sha = repo.commit("churn spec")
    repo.write(churn(repo, description="Churn within the next month."))
    joined = tmp_path / "review" / "review.md"
    env = repo.env()
    env.pop("MLOPS_BUILTIN_SPECS")
    env.pop("MLOPS_SPECS_PATH")
    done = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "review-specs",
            "SPECS=churn",
            f"SPEC_DIRS={repo.specs}",
            f"BASE={base_sha}",
            "SAMPLE=0.5",
            f"REVIEW_MD={joined}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    log = (tmp_path / "review" / "specs" / "churn.log").read_text()
    assert done.returncode == 0, done.stdout + log[-5000:]
    text = joined.read_text()
    assert text.startswith("<!-- mlops-review -->\n## Model review\n")
    assert "| `churn` | passes |" in text
    assert "### `churn`: passes" in text and "Spec fields changed: `description`." in text
    assert not repo.user_home.exists()
