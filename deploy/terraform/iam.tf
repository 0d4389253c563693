# IAM roles for Kubernetes service accounts (IRSA): each role can be assumed only by
# the named service accounts of this cluster, so no pod holds an AWS access key.

locals {
  irsa_subjects = {
    # Every pod of the platform in the namespace: webservers, daemon, code server,
    # run and step pods (the Dagster chart's service accounts) and MLflow.
    platform = ["system:serviceaccount:${local.namespace}:*"]
    # The External Secrets Operator's controller.
    external_secrets = ["system:serviceaccount:external-secrets:external-secrets"]
    # The EFS CSI driver's controller.
    efs_csi = ["system:serviceaccount:kube-system:efs-csi-controller-sa"]
  }
}

data "aws_iam_policy_document" "irsa_trust" {
  for_each = local.irsa_subjects
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringLike"
      variable = "${local.oidc_issuer}:sub"
      values   = each.value
    }
  }
}

# --- The platform: its buckets, their key and the Delta lock table -----------------

resource "aws_iam_role" "platform" {
  name               = "${var.name}-platform"
  assume_role_policy = data.aws_iam_policy_document.irsa_trust["platform"].json
}

data "aws_iam_policy_document" "platform" {
  statement {
    sid       = "ListTheBuckets"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [for bucket in module.bucket : bucket.arn]
  }
  statement {
    sid       = "ReadAndWriteTablesAndArtifacts"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = [for bucket in module.bucket : "${bucket.arn}/*"]
  }
  statement {
    sid       = "UseTheDataKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [aws_kms_key.platform.arn]
  }
  statement {
    sid = "CommitDeltaTables"
    actions = [
      "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
      "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:DescribeTable",
    ]
    resources = [aws_dynamodb_table.delta_log.arn]
  }
}

resource "aws_iam_role_policy" "platform" {
  name   = "data-and-artifacts"
  role   = aws_iam_role.platform.id
  policy = data.aws_iam_policy_document.platform.json
}

# --- External Secrets Operator: reads the platform's secret, nothing else ----------

resource "aws_iam_role" "external_secrets" {
  name               = "${var.name}-external-secrets"
  assume_role_policy = data.aws_iam_policy_document.irsa_trust["external_secrets"].json
}

data "aws_iam_policy_document" "external_secrets" {
  statement {
    sid       = "ReadThePlatformSecret"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:ListSecretVersionIds"]
    resources = [aws_secretsmanager_secret.platform.arn]
  }
  statement {
    sid       = "DecryptIt"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.platform.arn]
  }
}

resource "aws_iam_role_policy" "external_secrets" {
  name   = "read-platform-secret"
  role   = aws_iam_role.external_secrets.id
  policy = data.aws_iam_policy_document.external_secrets.json
}

# --- EFS CSI driver ------------------------------------------------------------------

resource "aws_iam_role" "efs_csi" {
  name               = "${var.name}-efs-csi"
  assume_role_policy = data.aws_iam_policy_document.irsa_trust["efs_csi"].json
}

resource "aws_iam_role_policy_attachment" "efs_csi" {
  role       = aws_iam_role.efs_csi.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonEFSCSIDriverPolicy"
}
