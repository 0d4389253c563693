"""A small client for the Dagster webserver's GraphQL API, as an operator or a script calls it."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from typing import Any

LOCATION = "mlops_assets"
REPOSITORY = "__repository__"
ASSET_JOB = "__ASSET_JOB"

GROUP_ASSETS = """
query GroupAssets($group: AssetGroupSelector!) {
  assetNodes(group: $group) { assetKey { path } isPartitioned }
}
"""

LAUNCH_RUN = """
mutation LaunchRun($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""

LAUNCH_BACKFILL = """
mutation LaunchBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
    ... on PartitionSetNotFoundError { message }
  }
}
"""

RUN = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { runId status startTime endTime tags { key value } }
  }
}
"""

RUNS_WITH_TAG = """
query RunsWithTag($key: String!, $value: String!) {
  runsOrError(filter: {tags: [{key: $key, value: $value}]}) {
    ... on Runs { results { runId status startTime endTime tags { key value } } }
  }
}
"""

BACKFILL = """
query Backfill($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill { id status }
  }
}
"""

FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


class DagsterGraphQL:
    """POSTs GraphQL documents to one webserver, optionally with basic-auth credentials."""

    def __init__(self, url: str, user: str | None = None, password: str | None = None) -> None:
        self.url = url.rstrip("/") + "/graphql"
        self.headers = {"Content-Type": "application/json"}
        if user is not None:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"

    def query(self, document: str, **variables: Any) -> dict[str, Any]:
        body = json.dumps({"query": document, "variables": variables}).encode()
        request = urllib.request.Request(self.url, body, self.headers)
        with urllib.request.urlopen(request, timeout=120) as response:
            payload = json.load(response)
        if payload.get("errors"):
            raise RuntimeError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def group_asset_paths(self, group: str) -> list[list[str]]:
        data = self.query(
            GROUP_ASSETS,
            group={
                "groupName": group,
                "repositoryName": REPOSITORY,
                "repositoryLocationName": LOCATION,
            },
        )
        return [node["assetKey"]["path"] for node in data["assetNodes"]]

    def launch_assets(self, paths: list[list[str]], tags: dict[str, str]) -> dict[str, Any]:
        """Launch one run of the implicit asset job over `paths`; returns the mutation's result."""
        data = self.query(
            LAUNCH_RUN,
            executionParams={
                "selector": {
                    "repositoryLocationName": LOCATION,
                    "repositoryName": REPOSITORY,
                    "pipelineName": ASSET_JOB,
                    "assetSelection": [{"path": path} for path in paths],
                },
                "runConfigData": {},
                "mode": "default",
                "executionMetadata": {
                    "tags": [{"key": key, "value": value} for key, value in tags.items()]
                },
            },
        )
        return data["launchPipelineExecution"]

    def launch_backfill(self, paths: list[list[str]], partitions: list[str]) -> dict[str, Any]:
        data = self.query(
            LAUNCH_BACKFILL,
            backfillParams={
                "assetSelection": [{"path": path} for path in paths],
                "partitionNames": partitions,
                "fromFailure": False,
            },
        )
        return data["launchPartitionBackfill"]

    def run(self, run_id: str) -> dict[str, Any]:
        return self.query(RUN, runId=run_id)["runOrError"]

    def runs_tagged(self, key: str, value: str) -> list[dict[str, Any]]:
        return self.query(RUNS_WITH_TAG, key=key, value=value)["runsOrError"]["results"]

    def backfill_status(self, backfill_id: str) -> str:
        return self.query(BACKFILL, backfillId=backfill_id)["partitionBackfillOrError"]["status"]

    def wait_for_run(self, run_id: str, timeout: float = 600) -> dict[str, Any]:
        """Poll until the run finishes (or `timeout` seconds pass); returns the run."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(run_id)
            if run["status"] in FINISHED or time.monotonic() > deadline:
                return run
            time.sleep(2)


def http_status(url: str, user: str | None = None, password: str | None = None) -> int:
    """The HTTP status of a GET, with basic auth when credentials are given."""
    request = urllib.request.Request(url)
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def tags_of(run: dict[str, Any]) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in run["tags"]}
