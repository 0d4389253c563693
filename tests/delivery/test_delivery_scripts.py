"""The scripts and Make targets the workflows call, run for real: image tags, the list
of changed specs (on a real git repository), and the joined review report."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

PYTHON = ROOT / ".venv" / "bin" / "python"
SHA = "0123456789abcdef0123456789abcdef01234567"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def image_tags(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    output = tmp_path / "github_output"
    output.write_text("")
    variables = {"PATH": "/usr/bin:/bin", "GITHUB_OUTPUT": str(output), **env}
    return subprocess.run(
        ["bash", ".ci/image-tags"], cwd=ROOT, env=variables, capture_output=True, text=True
    )


def outputs(tmp_path: Path) -> str:
    return (tmp_path / "github_output").read_text()


def test_a_main_build_is_tagged_with_the_sha_and_the_version_with_the_short_sha(tmp_path) -> None:
    result = image_tags(
        tmp_path,
        REGISTRY="ghcr.io",
        IMAGE_NAME="acme/mlops-assets",
        GITHUB_SHA=SHA,
        GITHUB_REF="refs/heads/main",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"ghcr.io/acme/mlops-assets:{SHA}",
        f"ghcr.io/acme/mlops-assets:{VERSION}-{SHA[:7]}",
    ]
    assert f"sha_tag=ghcr.io/acme/mlops-assets:{SHA}\n" in outputs(tmp_path)
    assert f"version={VERSION}\n" in outputs(tmp_path)
    assert f"tags<<MLOPS_TAGS_EOF\n{result.stdout}MLOPS_TAGS_EOF\n" in outputs(tmp_path)


def test_a_release_tag_is_tagged_with_the_version(tmp_path) -> None:
    result = image_tags(
        tmp_path,
        REGISTRY="123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        IMAGE_NAME="mlops/mlops-assets",
        GITHUB_SHA=SHA,
        GITHUB_REF=f"refs/tags/v{VERSION}",
    )
    assert result.returncode == 0, result.stderr
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops/mlops-assets"
    assert result.stdout.splitlines() == [f"{image}:{SHA}", f"{image}:{VERSION}"]


def test_a_release_tag_that_disagrees_with_pyproject_is_refused(tmp_path) -> None:
    result = image_tags(
        tmp_path,
        REGISTRY="ghcr.io",
        IMAGE_NAME="acme/mlops-assets",
        GITHUB_SHA=SHA,
        GITHUB_REF="refs/tags/v99.0.0",
    )
    assert result.returncode == 1
    assert f"tag v99.0.0 does not match the version {VERSION} in pyproject.toml" in result.stderr
    assert outputs(tmp_path) == ""


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"IMAGE_NAME": "acme/x"}, "set the repository variable REGISTRY"),
        ({"REGISTRY": "ghcr.io"}, "set the repository variable IMAGE_NAME"),
        ({"REGISTRY": "GHCR.io", "IMAGE_NAME": "acme/x"}, "is not a registry host"),
        ({"REGISTRY": "ghcr.io", "IMAGE_NAME": "Acme/X"}, "is not a lowercase repository path"),
    ],
)
def test_missing_or_malformed_registry_settings_are_named(tmp_path, env, message) -> None:
    result = image_tags(tmp_path, GITHUB_SHA=SHA, GITHUB_REF="refs/heads/main", **env)
    assert result.returncode == 1
    assert message in result.stderr


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def write_spec(path: Path, name: str, description: str = "first") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"name": name, "description": description}))


@pytest.fixture
def spec_repo(tmp_path: Path) -> Path:
    """A git repository whose branch `feature` edits, adds and deletes spec files."""
    repo = tmp_path / "repo"
    builtin = repo / "mlops_assets" / "specs" / "builtin"
    write_spec(builtin / "flights.yaml", "flights")
    write_spec(repo / "specs" / "churn.yaml", "churn")
    write_spec(repo / "specs" / "gone.yaml", "gone")
    write_spec(repo / "specs" / "same.yaml", "same")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "checkout", "-q", "-b", "feature")
    write_spec(builtin / "flights.yaml", "flights", "second")
    write_spec(repo / "specs" / "fraud.yml", "fraud_v2")
    (repo / "specs" / "gone.yaml").unlink()
    (repo / "specs" / "broken.yaml").write_text("name: [unclosed\n")
    (repo / "specs" / "notes.md").write_text("not a spec\n")
    write_spec(repo / "specs" / "nested" / "deep.yaml", "deep")
    write_spec(repo / "elsewhere" / "other.yaml", "other")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "change specs")
    return repo


def spec_names(repo: Path, *args: str, output: Path | None = None) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin"} | ({"GITHUB_OUTPUT": str(output)} if output else {})
    return subprocess.run(
        [str(PYTHON), str(ROOT / ".ci" / "review" / "spec_names.py"), *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
    )


def test_changed_specs_are_the_added_and_modified_spec_files(spec_repo, tmp_path) -> None:
    output = tmp_path / "github_output"
    output.write_text("")
    result = spec_names(
        spec_repo, "changed", "--base", "main", "mlops_assets/specs/builtin", "specs", output=output
    )
    assert result.returncode == 0, result.stderr
    # Deleted, nested, non-YAML and out-of-folder files are not reviewed; an unreadable
    # file is reviewed under its stem, so that its review reports the error.
    assert result.stdout.splitlines() == ["broken", "flights", "fraud_v2"]
    assert output.read_text() == (
        "specs=broken flights fraud_v2\n"
        + f"json={json.dumps(['broken', 'flights', 'fraud_v2'])}\n"
        + "count=3\n"
    )


def test_no_changed_spec_gives_an_empty_list(spec_repo, tmp_path) -> None:
    output = tmp_path / "github_output"
    output.write_text("")
    result = spec_names(spec_repo, "changed", "--base", "HEAD", "specs", output=output)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert output.read_text() == "specs=\njson=[]\ncount=0\n"


def test_every_spec_is_listed_for_the_nightly_review(spec_repo) -> None:
    result = spec_names(spec_repo, "all", "mlops_assets/specs/builtin", "specs", "absent")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["broken", "churn", "flights", "fraud_v2", "same"]


def test_an_unknown_base_ref_is_a_clear_error(spec_repo) -> None:
    result = spec_names(spec_repo, "changed", "--base", "origin/nope", "specs")
    assert result.returncode == 1
    assert "cannot diff against 'origin/nope'" in result.stderr


def test_make_lists_the_builtin_spec_and_no_change_against_head() -> None:
    every = subprocess.run(
        ["make", "--no-print-directory", "specs-all"], cwd=ROOT, capture_output=True, text=True
    )
    assert every.returncode == 0, every.stderr
    assert "flights" in every.stdout.splitlines()
    changed = subprocess.run(
        ["make", "--no-print-directory", "specs-changed", "BASE=HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert changed.returncode == 0, changed.stderr
    assert "flights" not in changed.stdout.splitlines()


def make_dry_run(*args: str) -> str:
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", *args], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_review_calls_mlops_review_with_every_option() -> None:
    text = make_dry_run(
        "review", "SPEC=flights", "BASE=origin/main", "SAMPLE=0.1", "REVIEW_MD=out/flights.md"
    )
    assert (
        '.venv/bin/mlops review --spec "flights" --base "origin/main" --sample "0.1" '
        '--markdown "out/flights.md"'
    ) in text


def test_make_review_without_a_base_leaves_the_comparison_to_mlops_review() -> None:
    text = make_dry_run("review", "SPEC=flights")
    assert "--base" not in text
    assert '--sample "0.2" --markdown ".ci/cache/review/flights.md"' in text


def test_make_review_needs_a_spec() -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "review"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "set SPEC=<spec name>" in result.stderr


def test_a_review_that_cannot_run_is_reported_and_fails_the_step(tmp_path) -> None:
    """The real `mlops` CLI on a spec that does not exist: no pass, the log is in the report."""
    report = tmp_path / "review.md"
    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "review-specs",
            "SPECS=no_such_spec",
            f"REVIEW_MD={report}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    text = report.read_text()
    assert text.startswith("<!-- mlops-review -->\n## Model review\n")
    row = next(line for line in text.splitlines() if line.startswith("| `no_such_spec` |"))
    assert "passes" not in row
    assert (tmp_path / "specs" / "no_such_spec.log").read_text() != ""
    if not (tmp_path / "specs" / "no_such_spec.md").exists():
        assert "### no_such_spec\n\n`mlops review` wrote no report. The end of its log:" in text
    else:
        assert "could not run (exit 2)" in row
        assert "### `no_such_spec`: the review could not run" in text


def load_review_specs():
    path = ROOT / ".ci" / "review" / "review_specs.py"
    spec = importlib.util.spec_from_file_location("review_specs", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["review_specs"] = module
    spec.loader.exec_module(module)
    return module


def test_the_joined_report_keeps_each_section_and_fits_a_comment(tmp_path) -> None:
    review_specs = load_review_specs()
    passed = review_specs.Review("a", 0, tmp_path / "a.md", tmp_path / "a.log")
    passed.report.write_text("### a\n\nverdict: promote\n")
    rejected = review_specs.Review("b", 1, tmp_path / "b.md", tmp_path / "b.log")
    rejected.report.write_text("### b\n\n" + "x" * 100_000)
    text = review_specs.joined_report([passed, rejected], "origin/main", "0.2")
    assert len(text) <= review_specs.COMMENT_LIMIT
    assert "| `a` | passes |" in text
    assert "| `b` | does not pass (exit 1) |" in text
    assert "compared with the specs at `origin/main`" in text
    assert "verdict: promote" in text
    assert text.endswith("the full reports are in the job's artifacts._\n")
