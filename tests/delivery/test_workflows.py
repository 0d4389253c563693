"""The GitHub workflows, checked offline: actionlint, and the project's own rules.

Rules (docs/delivery.md): every `run:` step is one call of a Make target or a script of
the repository; every action is pinned by a full commit sha with its version beside it;
every workflow and job declares its `permissions:`; no expression (so no secret) is
written into a `run:` script, values reach steps through `env:` only; every repository
variable and secret the workflows read is documented.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONLINT = ROOT / ".venv" / "bin" / "actionlint"
PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
SHELL_OPERATORS = {";", "&&", "||", "|", "&", ">", ">>", "<", "(", ")"}


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def triggers(workflow: dict[str, Any]) -> Any:
    # PyYAML reads the key `on` as the boolean true.
    return workflow.get("on", workflow.get(True))


def steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(job id, job, step) for every step of every job."""
    return [
        (job_id, job, step)
        for job_id, job in workflow["jobs"].items()
        for step in job.get("steps", [])
    ]


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"(?m)^([A-Za-z0-9][A-Za-z0-9_.-]*)\s*:(?!=)", text))


def run_lines(script: str) -> list[str]:
    """The commands of a `run:` script: continuation lines joined, comments dropped."""
    joined = script.replace("\\\n", " ")
    return [
        line.strip()
        for line in joined.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def command_problems(line: str, targets: set[str]) -> list[str]:
    """Why `line` is not one call of a Make target or of a script in the repository."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    tokens = list(lexer)
    if operators := SHELL_OPERATORS.intersection(tokens) or ("$(" in line or "`" in line):
        return [f"{line!r}: one command per line, no shell operators ({operators})"]
    while tokens and ENV_ASSIGNMENT.match(tokens[0]):
        tokens.pop(0)
    if not tokens:
        return [f"{line!r}: no command"]
    program, args = tokens[0], tokens[1:]
    if program == "make":
        named = [a for a in args if not a.startswith("-") and not ENV_ASSIGNMENT.match(a)]
        if not named:
            return [f"{line!r}: name the Make target"]
        return [f"{line!r}: no Make target {t!r}" for t in named if t not in targets]
    script = args[0] if program in {"bash", "sh"} and args else program
    path = ROOT / script
    if not (script.startswith((".ci/", "./")) or "/" in script) or not path.is_file():
        return [f"{line!r}: neither `make TARGET` nor a script of the repository"]
    return []


def placeholder_env(*levels: dict[str, Any] | None) -> dict[str, str]:
    """The step's environment, with every `${{ }}` value replaced by a plain word."""
    env = dict(os.environ)
    for level in levels:
        for name, value in (level or {}).items():
            env[name] = re.sub(r"\$\{\{.*?\}\}", "placeholder", str(value)) or "placeholder"
    return env


@pytest.fixture(scope="module")
def workflows() -> dict[str, dict[str, Any]]:
    files = workflow_files()
    assert {p.name for p in files} >= {"ci.yml", "image.yml", "review-nightly.yml"}
    return {path.name: load(path) for path in files}


def test_actionlint_finds_nothing() -> None:
    result = subprocess.run(
        [str(ACTIONLINT), "-no-color", "-shellcheck=", "-pyflakes=", *map(str, workflow_files())],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_actionlint_reports_a_broken_workflow(tmp_path: Path) -> None:
    """The linter really runs: a misspelt key and an unknown shell are reported."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  build:\n    runs-on: ubuntu-24.04\n    permisions: {}\n"
        "    steps:\n      - run: make lint\n        shell: bashh\n"
    )
    result = subprocess.run(
        [str(ACTIONLINT), "-no-color", "-shellcheck=", "-pyflakes=", str(broken)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert 'unexpected key "permisions"' in result.stdout
    assert 'shell name "bashh" is invalid' in result.stdout


def test_every_run_step_calls_a_make_target_or_a_repository_script(workflows) -> None:
    targets = makefile_targets()
    problems = [
        f"{name} job {job_id}: {problem}"
        for name, workflow in workflows.items()
        for job_id, _job, step in steps(workflow)
        if "run" in step
        for line in run_lines(step["run"])
        for problem in command_problems(line, targets)
    ]
    assert problems == []


def test_every_make_call_of_a_workflow_resolves_in_a_dry_run(workflows) -> None:
    """`make -n` accepts each call with the step's environment: targets and Makefile parse."""
    calls = 0
    for workflow in workflows.values():
        for _job_id, job, step in steps(workflow):
            for line in run_lines(step.get("run", "")):
                words = [w for w in shlex.split(line) if not ENV_ASSIGNMENT.match(w)]
                if words[0] != "make":
                    continue
                env = placeholder_env(workflow.get("env"), job.get("env"), step.get("env"))
                dry = line.replace("make ", "make -n ", 1)
                result = subprocess.run(
                    ["bash", "-c", dry], cwd=ROOT, env=env, capture_output=True, text=True
                )
                assert result.returncode == 0, f"{line}: {result.stderr}"
                calls += 1
    assert calls >= 6


def test_the_checker_rejects_inline_scripts_and_unknown_targets() -> None:
    targets = makefile_targets()
    assert command_problems('make review SPEC="$SPEC"', targets) == []
    assert command_problems("bash .ci/run", targets) == []
    assert command_problems("make no-such-target", targets) == [
        "'make no-such-target': no Make target 'no-such-target'"
    ]
    assert command_problems("pip install foo", targets)
    assert command_problems("make lint && make test", targets)
    assert command_problems("bash .ci/missing-script", targets)
    assert command_problems("echo $(cat /etc/passwd)", targets)


def test_every_action_is_pinned_by_commit_sha_with_its_version(workflows) -> None:
    for path in workflow_files():
        workflow = workflows[path.name]
        for job_id, job, step in steps(workflow):
            if "uses" in step:
                assert PINNED.match(step["uses"]), f"{path.name} {job_id}: {step['uses']}"
            assert "uses" not in job or PINNED.match(job["uses"]), f"{path.name} {job_id}"
        for line in path.read_text().splitlines():
            if re.match(r"^\s*(-\s+)?uses:", line):
                assert re.search(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), line


def test_every_workflow_and_job_declares_least_privilege_permissions(workflows) -> None:
    for name, workflow in workflows.items():
        assert workflow.get("permissions") == {"contents": "read"}, name
        assert "pull_request_target" not in (triggers(workflow) or {}), name
        for job_id, job in workflow["jobs"].items():
            permissions = job.get("permissions")
            assert isinstance(permissions, dict), f"{name} job {job_id} declares no permissions"
            assert set(permissions.values()) <= {"read", "write", "none"}, f"{name} {job_id}"
    writes = {
        (name, job_id, scope)
        for name, workflow in workflows.items()
        for job_id, job in workflow["jobs"].items()
        for scope, level in job["permissions"].items()
        if level == "write"
    }
    assert writes == {
        ("ci.yml", "review", "pull-requests"),
        ("image.yml", "image", "security-events"),
    }


def test_no_expression_or_secret_is_written_into_a_run_script(workflows) -> None:
    for name, workflow in workflows.items():
        for job_id, _job, step in steps(workflow):
            script = step.get("run", "")
            assert "secrets." not in script, f"{name} {job_id}: {script}"
            assert "${{" not in script, f"{name} {job_id}: pass it through env: {script}"


def test_secrets_reach_steps_through_inputs_or_env_only(workflows) -> None:
    """A secret is only ever the value of an action's login input or of an env variable."""
    uses = 0
    for path in workflow_files():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "${{ secrets." in line:
                key = line.strip().split(":", 1)[0]
                assert key in {"username", "password"} or key.isupper(), f"{path.name}:{number}"
                uses += 1
    assert uses >= 2


def test_every_variable_and_secret_the_workflows_read_is_documented() -> None:
    text = "\n".join(p.read_text() for p in workflow_files())
    names = set(re.findall(r"\b(?:vars|secrets)\.([A-Z_][A-Z0-9_]*)", text))
    assert names >= {"REGISTRY", "IMAGE_NAME", "REGISTRY_USERNAME", "REGISTRY_PASSWORD"}
    documentation = (ROOT / "docs" / "delivery.md").read_text()
    assert [n for n in sorted(names) if f"`{n}`" not in documentation] == []


def test_the_review_comment_is_posted_from_the_review_report(workflows) -> None:
    review = workflows["ci.yml"]["jobs"]["review"]
    by_name = {step.get("name"): step for step in review["steps"]}
    comment = by_name["Comment on the pull request"]
    assert comment["with"]["path"] == review["env"]["REVIEW_MD"]
    assert "make review-specs" in by_name["Review them"]["run"]
    assert "always()" in comment["if"]


def test_image_is_scanned_before_it_is_pushed(workflows) -> None:
    names = [step.get("name") for step in workflows["image.yml"]["jobs"]["image"]["steps"]]
    gate = names.index("Gate on fixable critical and high vulnerabilities")
    assert names.index("Build (loaded locally for the scan)") < gate
    assert gate < names.index("Push (the same build, from the cache)")
