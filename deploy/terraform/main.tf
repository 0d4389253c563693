# Names and facts every file of the module shares.
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # The manifests in deploy/k8s/ and the Helm values put everything in this namespace.
  namespace = "mlops"

  # Bucket names are global: the account id keeps them unique.
  buckets = {
    lake   = "${var.name}-lake-${local.account_id}"
    mlflow = "${var.name}-mlflow-${local.account_id}"
  }
  access_log_bucket = "${var.name}-access-logs-${local.account_id}"

  # MLOPS_DATA_ROOT and MLFLOW_ARTIFACTS_DESTINATION of the platform.
  data_root             = "s3://${local.buckets.lake}/tables"
  artifacts_destination = "s3://${local.buckets.mlflow}/artifacts"
  delta_lock_table      = "${var.name}-delta-log"

  # The secret an operator fills in (docs/terraform.md, step 5): JSON with the keys
  # pii_key, dagster_pg_password and mlflow_pg_password.
  platform_secret_name = "${var.name}/platform"
}
