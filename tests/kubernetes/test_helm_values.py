"""deploy/k8s/dagster-values.yaml uses only keys of Dagster's official chart, and agrees with
deploy/dagster.prod.yaml on the run queue, run monitoring and retries.

`dagster_chart_values.schema.json` is a trimmed copy of the chart's values.schema.json (its
source commit is in its `$comment`). Helm validates the chart defaults merged with these
values, so `required` is not checked here (the defaults supply those keys); every key this
file sets must exist in the schema and have the schema's type. The schema's Kubernetes
types are checked with the strict Kubernetes schemas bundled in kubernetes-validate.
"""

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import referencing
import yaml

ROOT = Path(__file__).resolve().parents[2]
VALUES = ROOT / "deploy" / "k8s" / "dagster-values.yaml"
PROD_INSTANCE = ROOT / "deploy" / "dagster.prod.yaml"
CHART_SCHEMA = Path(__file__).with_name("dagster_chart_values.schema.json")
K8S_DEFINITIONS_URI = "https://kubernetesjsonschema.dev/v1.18.0/_definitions.json"
K8S_DEFINITIONS = (
    Path(kubernetes_validate.__file__).parent
    / "kubernetes-json-schema"
    / "v1.31.0-local-strict"
    / "_definitions.json"
)
# Keys the chart's templates/configmap-instance.yaml reads from dagsterDaemon.runMonitoring,
# and the fields of RunRetries in helm/dagster/schema/.../subschema/daemon.py (both typed
# only as `object` in values.schema.json).
RUN_MONITORING_KEYS = {
    "enabled",
    "startTimeoutSeconds",
    "cancelTimeoutSeconds",
    "maxResumeRunAttempts",
    "pollIntervalSeconds",
    "freeSlotsAfterRunEndSeconds",
}
RUN_RETRIES_KEYS = {"enabled", "maxRetries", "retryOnAssetOrOpFailure"}


def values() -> dict[str, Any]:
    return yaml.safe_load(VALUES.read_text())


def chart_schema() -> dict[str, Any]:
    return json.loads(CHART_SCHEMA.read_text())


def without_required(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: without_required(v) for k, v in node.items() if k != "required"}
    if isinstance(node, list):
        return [without_required(v) for v in node]
    return node


def kubernetes_definitions() -> referencing.Resource:
    """kubernetes-validate's strict definitions, also under the `definitions` key the chart uses."""
    contents = json.loads(K8S_DEFINITIONS.read_text())
    contents.pop("$id", None)
    contents["definitions"] = contents["$defs"]
    return referencing.Resource.from_contents(contents)


def validator(schema: dict[str, Any]) -> jsonschema.Draft7Validator:
    registry = referencing.Registry().with_resource(K8S_DEFINITIONS_URI, kubernetes_definitions())
    return jsonschema.Draft7Validator(schema, registry=registry)


def errors_of(document: dict[str, Any]) -> list[str]:
    schema = without_required(chart_schema())
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator(schema).iter_errors(document)
    ]


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node and node["$ref"].startswith("#/definitions/"):
        node = schema["definitions"][node["$ref"].removeprefix("#/definitions/")]
    return node


def unknown_keys(schema: dict[str, Any], node: dict[str, Any], value: Any, path: str) -> list[str]:
    """Keys of `value` that the chart schema does not define, walking objects and arrays."""
    node = resolve(schema, node)
    if "$comment" in node and node["$comment"].startswith("trimmed"):
        return [f"{path}: reaches a definition trimmed from the vendored schema"]
    branches = [resolve(schema, b) for b in node.get("anyOf", [])] or [node]
    if isinstance(value, dict):
        if any(b.get("$ref", "").startswith(K8S_DEFINITIONS_URI) for b in branches):
            return []  # a Kubernetes type: the validator checks it against Kubernetes' schema
        objects = [b for b in branches if "properties" in b]
        if not objects:
            return []  # a free-form object (the chart passes it through)
        found = []
        for key, item in value.items():
            owner = next((b for b in objects if key in b["properties"]), None)
            if owner is None:
                found.append(f"{path}.{key}")
            else:
                found += unknown_keys(schema, owner["properties"][key], item, f"{path}.{key}")
        return found
    if isinstance(value, list):
        items = [b["items"] for b in branches if "items" in b] or [node.get("items", {})]
        return [
            k
            for i, v in enumerate(value)
            for k in unknown_keys(schema, items[0], v, f"{path}[{i}]")
        ]
    return []


def test_every_key_exists_in_the_chart_schema() -> None:
    schema = chart_schema()
    assert unknown_keys(schema, schema, values(), "") == []


def test_values_have_the_chart_schema_types() -> None:
    assert errors_of(values()) == []


@pytest.mark.parametrize(
    "path, bad, expected",
    [
        (
            ("runLauncher", "config", "k8sRunLauncher", "envSecret"),
            ["x"],
            ".runLauncher.config.k8sRunLauncher.envSecret",
        ),
        (("dagsterDaemon", "runCoordinator", "enable"), True, ".runCoordinator.enable"),
        (("dagster-user-deployments", "deployments", 0, "codeServerArg"), ["-m"], ".codeServerArg"),
    ],
)
def test_a_misspelt_key_is_caught(path: tuple, bad: Any, expected: str) -> None:
    document = copy.deepcopy(values())
    node = document
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = bad
    schema = chart_schema()
    assert any(k.endswith(expected) for k in unknown_keys(schema, schema, document, ""))


def test_a_wrong_kubernetes_field_is_caught() -> None:
    document = copy.deepcopy(values())
    document["runLauncher"]["config"]["k8sRunLauncher"]["resources"]["request"] = {"cpu": "1"}
    document["dagsterDaemon"]["runCoordinator"]["type"] = "FifoRunCoordinator"
    errors = errors_of(document)
    assert any("resources" in e and "request" in e for e in errors), errors
    assert any("FifoRunCoordinator" in e for e in errors), errors


def test_no_secret_in_the_values() -> None:
    document = values()
    assert "postgresqlPassword" not in document["postgresql"]
    assert document["generatePostgresqlPasswordSecret"] is False
    assert document["global"]["postgresqlSecretName"]


def test_run_queue_and_pools_agree_with_the_production_instance() -> None:
    prod = yaml.safe_load(PROD_INSTANCE.read_text())
    queued = values()["dagsterDaemon"]["runCoordinator"]
    assert queued["type"] == "QueuedRunCoordinator" == prod["run_coordinator"]["class"]
    assert "config" not in queued  # the limits are the instance's `concurrency` block
    assert values()["additionalInstanceConfig"]["concurrency"] == prod["concurrency"]
    assert prod["concurrency"]["pools"]["default_limit"] == 1


def test_run_monitoring_and_retries_agree_with_the_production_instance() -> None:
    prod = yaml.safe_load(PROD_INSTANCE.read_text())
    daemon = values()["dagsterDaemon"]
    monitoring, retries = daemon["runMonitoring"], daemon["runRetries"]
    assert set(monitoring) <= RUN_MONITORING_KEYS
    assert set(retries) <= RUN_RETRIES_KEYS
    assert monitoring["enabled"] is prod["run_monitoring"]["enabled"] is True
    assert monitoring["startTimeoutSeconds"] == prod["run_monitoring"]["start_timeout_seconds"]
    assert monitoring["pollIntervalSeconds"] == prod["run_monitoring"]["poll_interval_seconds"]
    assert (
        monitoring["freeSlotsAfterRunEndSeconds"]
        == prod["run_monitoring"]["free_slots_after_run_end_seconds"]
    )
    assert retries["enabled"] is prod["run_retries"]["enabled"] is True
    assert retries["maxRetries"] == prod["run_retries"]["max_retries"]
    assert retries["retryOnAssetOrOpFailure"] == prod["run_retries"]["retry_on_asset_or_op_failure"]


def test_referenced_config_maps_and_volumes_are_in_the_manifests() -> None:
    manifests = [
        doc
        for path in (ROOT / "deploy" / "k8s").glob("*.yaml")
        if path.name not in {"kustomization.yaml", "dagster-values.yaml"}
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]
    names = {(doc["kind"], doc["metadata"]["name"]) for doc in manifests}
    deployment = values()["dagster-user-deployments"]["deployments"][0]
    launcher = values()["runLauncher"]["config"]["k8sRunLauncher"]
    for source in deployment["envConfigMaps"] + launcher["envConfigMaps"]:
        assert ("ConfigMap", source["name"]) in names
    for volume in deployment["volumes"] + launcher["volumes"]:
        claim = volume["persistentVolumeClaim"]["claimName"]
        assert ("PersistentVolumeClaim", claim) in names
    assert deployment["codeServerArgs"] == ["-m", "mlops_assets.definitions"]
