"""Object storage for Delta tables: S3, or S3-compatible storage such as MinIO.

delta-rs (behind both deltalake and polars) speaks S3 natively: it needs the
bucket URI, where the endpoint is, and credentials. Settings are read from the
same `AWS_*` environment variables every S3 tool uses. Credentials stay
`dg.EnvVar` references in the resource config, so the Dagster UI and run
config show the variable's name, never its value.
"""

from collections.abc import Mapping

import dagster as dg

# Names delta-rs accepts as storage options (delta-rs docs: integrations/object-storage/s3
# and s3-like). AWS_CONDITIONAL_PUT=etag gives MinIO and R2 safe concurrent commits;
# on AWS S3 use AWS_S3_LOCKING_PROVIDER=dynamodb or accept AWS_S3_ALLOW_UNSAFE_RENAME.
OBJECT_STORE_SETTINGS = (
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_ALLOW_HTTP",
    "AWS_CONDITIONAL_PUT",
    "AWS_S3_ALLOW_UNSAFE_RENAME",
    "AWS_S3_LOCKING_PROVIDER",
    "DELTA_DYNAMO_TABLE_NAME",
    "AWS_VIRTUAL_HOSTED_STYLE_REQUEST",
)

# Storage option name for each credential field of DeltaStore.
OBJECT_STORE_CREDENTIALS = {
    "access_key_id": "AWS_ACCESS_KEY_ID",
    "secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "session_token": "AWS_SESSION_TOKEN",
}


def object_store_settings(env: Mapping[str, str]) -> dict[str, str]:
    """The non-secret object-store settings present in `env`."""
    return {name: env[name] for name in OBJECT_STORE_SETTINGS if env.get(name)}


def object_store_credentials(env: Mapping[str, str]) -> dict[str, dg.EnvVar]:
    """DeltaStore credential fields as references to the variables set in `env`."""
    return {
        field: dg.EnvVar(variable)
        for field, variable in OBJECT_STORE_CREDENTIALS.items()
        if env.get(variable)
    }
