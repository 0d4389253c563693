# Names and addresses only: no output carries a secret value.

output "cluster_name" {
  description = "The EKS cluster the platform runs on."
  value       = local.cluster_name
}

output "kubeconfig_command" {
  description = "Writes a kubeconfig entry for the cluster (the AWS CLI fetches a short-lived token on every kubectl call)."
  value       = "aws eks update-kubeconfig --region ${var.region} --name ${local.cluster_name}"
}

output "data_root" {
  description = "MLOPS_DATA_ROOT: where the Delta tables live."
  value       = local.data_root
}

output "mlflow_artifacts_destination" {
  description = "MLFLOW_ARTIFACTS_DESTINATION: where the MLflow server stores artifacts."
  value       = local.artifacts_destination
}

output "bucket_names" {
  description = "The data lake and MLflow artifact buckets."
  value       = { for key, bucket in module.bucket : key => bucket.name }
}

output "delta_lock_table" {
  description = "DELTA_DYNAMO_TABLE_NAME: the DynamoDB table delta-rs commits through."
  value       = aws_dynamodb_table.delta_log.name
}

output "database_address" {
  description = "Host name of the PostgreSQL database (DAGSTER_PG_HOST; private to the VPC)."
  value       = aws_db_instance.platform.address
}

output "database_master_secret_arn" {
  description = "ARN of the Secrets Manager secret RDS keeps the master password in (the value stays there)."
  value       = aws_db_instance.platform.master_user_secret[0].secret_arn
}

output "platform_secret_arn" {
  description = "ARN of the secret to fill with pii_key, dagster_pg_password and mlflow_pg_password (docs/terraform.md, step 5)."
  value       = aws_secretsmanager_secret.platform.arn
}

output "platform_role_arn" {
  description = "IAM role the platform's service accounts assume (S3, KMS, DynamoDB)."
  value       = aws_iam_role.platform.arn
}

output "kms_key_arn" {
  description = "The customer-managed key that encrypts the platform's data."
  value       = aws_kms_key.platform.arn
}

output "efs_file_system_id" {
  description = "The EFS file system behind the shared volume mlops-io."
  value       = aws_efs_file_system.io.id
}
