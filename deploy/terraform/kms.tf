# One customer-managed key encrypts the buckets, the database, its backups and
# Performance Insights, the lock table, the secrets, the file system, the cluster's
# Kubernetes Secrets and its logs.
data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_111:A key policy: "*" is this key alone, and the account-root statement is AWS's default key policy that lets IAM policies grant use of the key.
  #checkov:skip=CKV_AWS_356:A key policy: the only resource a key policy can name is the key itself, written "*".
  #checkov:skip=CKV_AWS_109:A key policy: without the account-root statement the key becomes unmanageable (AWS's default key policy).
  statement {
    sid       = "AccountAdministersTheKey"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncryptsTheClusterLogs"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:*"]
    }
  }
}

resource "aws_kms_key" "platform" {
  description             = "${var.name}: data, database, secrets and cluster encryption"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "platform" {
  name          = "alias/${var.name}-platform"
  target_key_id = aws_kms_key.platform.key_id
}
