"""The plain Kubernetes manifests in deploy/k8s validate offline against a pinned Kubernetes."""

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.31.0"
NOT_MANIFESTS = {"kustomization.yaml", "dagster-values.yaml"}


def kustomization() -> dict:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name not in NOT_MANIFESTS)


def documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def all_resources() -> list[dict]:
    return [doc for path in manifest_files() for doc in documents(path)]


def test_kustomization_lists_every_manifest() -> None:
    assert sorted(kustomization()["resources"]) == [p.name for p in manifest_files()]


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: p.name)
def test_manifest_validates_strictly(path: Path) -> None:
    for resource in documents(path):
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


def test_strict_validation_rejects_an_unknown_field() -> None:
    service = documents(K8S / "mlflow.yaml")[1]
    service["spec"]["portz"] = service["spec"].pop("ports")
    with pytest.raises(kubernetes_validate.ValidationError, match="portz"):
        kubernetes_validate.validate(service, KUBERNETES_VERSION, strict=True)


def test_everything_lives_in_the_platform_namespace() -> None:
    namespaced = [r for r in all_resources() if r["kind"] != "Namespace"]
    assert {r["metadata"]["namespace"] for r in namespaced} == {kustomization()["namespace"]}


def test_no_secret_is_committed() -> None:
    """Secrets are created from the command line; manifests only reference them."""
    assert "Secret" not in {r["kind"] for r in all_resources()}
    settings = next(r for r in all_resources() if r["kind"] == "ConfigMap")
    credentials = (
        "PASSWORD",
        "SECRET_ACCESS_KEY",
        "ACCESS_KEY_ID",
        "TOKEN",
        "PII_KEY",
        "STORE_URI",
    )
    assert not [k for k in settings["data"] if any(c in k for c in credentials)]


def containers() -> list[dict]:
    return [
        c
        for r in all_resources()
        if r["kind"] == "Deployment"
        for c in r["spec"]["template"]["spec"]["containers"]
    ]


def test_workloads_run_the_project_image_set_by_kustomize() -> None:
    (image,) = kustomization()["images"]
    assert {c["image"] for c in containers()} == {image["name"]}


def test_exporter_serves_on_all_interfaces_of_its_pod() -> None:
    exporter = next(c for c in containers() if c["name"] == "exporter")
    assert exporter["command"] == ["mlops", "exporter", "--host", "0.0.0.0", "--port", "9108"]
    service = next(
        r
        for r in all_resources()
        if r["kind"] == "Service" and r["metadata"]["name"] == "mlops-exporter"
    )
    assert service["spec"]["ports"][0]["port"] == 9108


def test_services_select_their_deployments() -> None:
    deployments = {
        r["metadata"]["name"]: r["spec"]["template"]["metadata"]["labels"]
        for r in all_resources()
        if r["kind"] == "Deployment"
    }
    services = [r for r in all_resources() if r["kind"] == "Service"]
    assert len(services) == len(deployments)
    for service in services:
        labels = deployments[service["metadata"]["name"]]
        assert service["spec"]["selector"].items() <= labels.items()


def test_serving_is_ready_only_once_a_model_is_loaded() -> None:
    serving = next(c for c in containers() if c["name"] == "serving")
    assert serving["command"][:2] == ["mlops", "serve"]
    assert "--host=0.0.0.0" in serving["command"] and "--port=8000" in serving["command"]
    assert serving["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": "http"}
    assert serving["livenessProbe"]["httpGet"] == {"path": "/v2/health/live", "port": "http"}
    spec = {e["name"]: e.get("value") for e in serving["env"]}["MLOPS_SERVING_SPEC"]
    assert "--spec=$(MLOPS_SERVING_SPEC)" in serving["command"] and spec
    service = next(
        r
        for r in all_resources()
        if r["kind"] == "Service" and r["metadata"]["name"] == "mlops-serving"
    )
    assert service["spec"]["ports"][0]["port"] == 8000
