# The platform's own credentials, in AWS Secrets Manager. Terraform creates the secret
# (name, key, policy) but never its value: an operator writes the value once
# (docs/terraform.md, step 5), and the External Secrets Operator copies it into the
# Kubernetes Secrets the pods read. No value is in a variable, the plan or the state.
#
# The value is one JSON object:
#   pii_key             MLOPS_PII_KEY, the HMAC key for PII columns (keep it stable)
#   dagster_pg_password password of the database role `dagster`
#   mlflow_pg_password  password of the database role `mlflow`
resource "aws_secretsmanager_secret" "platform" {
  #checkov:skip=CKV2_AWS_57:Rotation is a procedure, not a Lambda: a new PII key changes every hash, and a new database password must be set on the role first (docs/terraform.md, "Rotating secrets").
  name                    = local.platform_secret_name
  description             = "Credentials of ${var.name}: PII key and the dagster and mlflow database passwords"
  kms_key_id              = aws_kms_key.platform.arn
  recovery_window_in_days = 30
}
