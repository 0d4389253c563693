"""Delta tables on S3-compatible storage: URIs, storage options and credentials from the environment.

There is no S3 here, so a recorder on 127.0.0.1 stands in for the object store: it
answers every listing with an empty bucket and keeps each request, which shows where
deltalake and polars send their requests and with which credentials.
"""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from mlops_assets.definitions import build_resources
from resources.delta_store import DeltaStore
from resources.object_storage import object_store_credentials, object_store_settings

KEY = dg.AssetKey(["churn", "validated"])
ACCESS_KEY_ID = "AKIDRECORDEDBYTEST01"
SECRET_ACCESS_KEY = "secret-access-key-never-in-config"
EMPTY_LISTING = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    "<Name>lake</Name><Prefix></Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys>"
    "<IsTruncated>false</IsTruncated></ListBucketResult>"
)


class ObjectStoreRecorder(BaseHTTPRequestHandler):
    requests: list[tuple[str, str, str]] = []

    def _answer(self) -> None:
        self.requests.append((self.command, self.path, self.headers.get("Authorization", "")))
        if self.command == "GET" and "list-type=2" in self.path:
            body = EMPTY_LISTING.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
        else:
            body = b"<Error><Code>NoSuchKey</Code></Error>"
            self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_HEAD = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def object_store() -> Iterator[tuple[str, list]]:
    ObjectStoreRecorder.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), ObjectStoreRecorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", ObjectStoreRecorder.requests
    server.shutdown()
    server.server_close()


S3_ENV = {
    "MLOPS_DATA_ROOT": "s3://lake/mlops/tables/",
    "AWS_REGION": "eu-central-1",
    "AWS_ALLOW_HTTP": "true",
    "AWS_CONDITIONAL_PUT": "etag",
    "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
    "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
}


def test_local_root_gives_folder_uris_and_no_options(tmp_path: Path) -> None:
    store = DeltaStore(root_uri=str(tmp_path / "tables"))
    assert store.table_uri(KEY) == str(tmp_path / "tables" / "churn" / "validated")
    assert store.object_store_options() is None


def test_s3_root_gives_bucket_uris_without_local_folders(tmp_path: Path) -> None:
    store = DeltaStore(root_uri="s3://lake/mlops/tables/")
    assert store.table_uri(KEY) == "s3://lake/mlops/tables/churn/validated"
    assert not Path("s3:").exists()


def test_settings_and_credentials_come_from_environment() -> None:
    env = {**S3_ENV, "AWS_ENDPOINT_URL": "http://minio:9000", "UNRELATED": "x"}
    assert object_store_settings(env) == {
        "AWS_ENDPOINT_URL": "http://minio:9000",
        "AWS_REGION": "eu-central-1",
        "AWS_ALLOW_HTTP": "true",
        "AWS_CONDITIONAL_PUT": "etag",
    }
    credentials = object_store_credentials(env)
    assert credentials == {
        "access_key_id": dg.EnvVar("AWS_ACCESS_KEY_ID"),
        "secret_access_key": dg.EnvVar("AWS_SECRET_ACCESS_KEY"),
    }
    assert object_store_credentials({}) == {}


def test_platform_resources_keep_credentials_as_env_var_references(
    platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {**S3_ENV, "AWS_ENDPOINT_URL": "http://minio:9000"}.items():
        monkeypatch.setenv(name, value)
    delta = build_resources()["delta"]
    assert delta.root_uri == "s3://lake/mlops/tables/"
    assert delta.table_uri(KEY) == "s3://lake/mlops/tables/churn/validated"
    # The resource's config holds the variable's name; the value is read only at run time.
    assert delta.access_key_id == dg.EnvVar("AWS_ACCESS_KEY_ID")
    assert SECRET_ACCESS_KEY not in repr(delta.storage_options)
    with dg.build_resources({"delta": delta}) as resolved:
        options = resolved.delta.object_store_options()
    assert options == {
        "AWS_ENDPOINT_URL": "http://minio:9000",
        "AWS_REGION": "eu-central-1",
        "AWS_ALLOW_HTTP": "true",
        "AWS_CONDITIONAL_PUT": "etag",
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
    }


def signed_by_test_key(requests: list) -> bool:
    return any(f"Credential={ACCESS_KEY_ID}/" in auth for _, _, auth in requests)


def test_deltalake_and_polars_reach_the_endpoint_with_the_credentials(
    object_store: tuple[str, list],
) -> None:
    endpoint, requests = object_store
    options = {k: v for k, v in S3_ENV.items() if k != "MLOPS_DATA_ROOT"}
    store = DeltaStore(
        root_uri="s3://lake/mlops/tables",
        storage_options={**object_store_settings(options), "AWS_ENDPOINT_URL": endpoint},
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
    )
    assert store.version(KEY) is None
    assert signed_by_test_key(requests)
    # Path-style request for the table's log under the bucket.
    assert any(
        path.startswith("/lake/mlops/tables/churn/validated/_delta_log") for _, path, _ in requests
    )

    requests.clear()
    with pytest.raises(dg.Failure, match="does not exist yet"):
        store.scan(KEY)
    with pytest.raises(TableNotFoundError):
        pl.scan_delta(
            store.table_uri(KEY), storage_options=store.object_store_options()
        ).collect_schema()
    assert signed_by_test_key(requests)


def test_readers_given_only_a_uri_use_the_environment(
    object_store: tuple[str, list], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Assets that read a table by the URI recorded in MLflow pass no options: delta-rs reads AWS_*."""
    endpoint, requests = object_store
    for name, value in {**S3_ENV, "AWS_ENDPOINT_URL": endpoint}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(TableNotFoundError):
        DeltaTable("s3://lake/mlops/tables/churn/training_set")
    assert signed_by_test_key(requests)
