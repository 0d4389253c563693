# The Kubernetes cluster: a new EKS cluster (create_cluster = true) or an existing
# one found by name. Either way the rest of the module reads it through the locals
# at the end of this file.

# --- A new cluster ------------------------------------------------------------------

data "aws_iam_policy_document" "eks_trust" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]
    principals {
      type        = "Service"
      identifiers = ["eks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "cluster" {
  count              = var.create_cluster ? 1 : 0
  name               = "${var.name}-eks-cluster"
  assume_role_policy = data.aws_iam_policy_document.eks_trust.json
}

resource "aws_iam_role_policy_attachment" "cluster" {
  count      = var.create_cluster ? 1 : 0
  role       = aws_iam_role.cluster[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonEKSClusterPolicy"
}

# Created before the cluster so that EKS writes into an encrypted group with a
# retention, instead of creating one that never expires.
resource "aws_cloudwatch_log_group" "cluster" {
  count             = var.create_cluster ? 1 : 0
  name              = "/aws/eks/${var.cluster_name}/cluster"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.platform.arn
}

resource "aws_eks_cluster" "platform" {
  count    = var.create_cluster ? 1 : 0
  name     = var.cluster_name
  version  = var.kubernetes_version
  role_arn = aws_iam_role.cluster[0].arn

  vpc_config {
    subnet_ids              = var.private_subnet_ids
    endpoint_private_access = true
    endpoint_public_access  = var.cluster_endpoint_public_access
    public_access_cidrs     = var.cluster_endpoint_public_access ? var.cluster_public_access_cidrs : null
  }

  access_config {
    authentication_mode                         = "API"
    bootstrap_cluster_creator_admin_permissions = true
  }

  encryption_config {
    resources = ["secrets"]
    provider {
      key_arn = aws_kms_key.platform.arn
    }
  }

  enabled_cluster_log_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

  depends_on = [aws_iam_role_policy_attachment.cluster, aws_cloudwatch_log_group.cluster]
}

data "aws_iam_policy_document" "node_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "nodes" {
  count              = var.create_cluster ? 1 : 0
  name               = "${var.name}-eks-nodes"
  assume_role_policy = data.aws_iam_policy_document.node_trust.json
}

resource "aws_iam_role_policy_attachment" "nodes" {
  for_each = var.create_cluster ? toset([
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryReadOnly",
  ]) : toset([])
  role       = aws_iam_role.nodes[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/${each.value}"
}

# Nodes: encrypted root volumes, IMDSv2 only, and a hop limit of 1 so that pods cannot
# borrow the node's role: they get their own through IRSA (iam.tf).
resource "aws_launch_template" "nodes" {
  count                  = var.create_cluster ? 1 : 0
  name_prefix            = "${var.name}-eks-nodes-"
  update_default_version = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = 100
      volume_type           = "gp3"
      encrypted             = true
      kms_key_id            = aws_kms_key.platform.arn
      delete_on_termination = true
    }
  }
}

resource "aws_eks_node_group" "platform" {
  count           = var.create_cluster ? 1 : 0
  cluster_name    = aws_eks_cluster.platform[0].name
  node_group_name = "${var.name}-default"
  node_role_arn   = aws_iam_role.nodes[0].arn
  subnet_ids      = var.private_subnet_ids
  instance_types  = var.node_instance_types

  scaling_config {
    min_size     = var.node_min_size
    desired_size = var.node_desired_size
    max_size     = var.node_max_size
  }

  launch_template {
    id      = aws_launch_template.nodes[0].id
    version = aws_launch_template.nodes[0].latest_version
  }

  update_config {
    max_unavailable = 1
  }

  depends_on = [aws_iam_role_policy_attachment.nodes]

  lifecycle {
    ignore_changes = [scaling_config[0].desired_size]
  }
}

# IAM OIDC provider of the new cluster: lets Kubernetes service accounts assume IAM
# roles (IRSA), so no pod carries an AWS access key.
data "tls_certificate" "oidc" {
  count = var.create_cluster ? 1 : 0
  url   = aws_eks_cluster.platform[0].identity[0].oidc[0].issuer
}

resource "aws_iam_openid_connect_provider" "cluster" {
  count           = var.create_cluster ? 1 : 0
  url             = aws_eks_cluster.platform[0].identity[0].oidc[0].issuer
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = [data.tls_certificate.oidc[0].certificates[0].sha1_fingerprint]
}

# --- An existing cluster --------------------------------------------------------------

data "aws_eks_cluster" "existing" {
  count = var.create_cluster ? 0 : 1
  name  = var.cluster_name
}

data "aws_iam_openid_connect_provider" "existing" {
  count = var.create_cluster ? 0 : 1
  url   = data.aws_eks_cluster.existing[0].identity[0].oidc[0].issuer
}

# --- What the rest of the module uses ----------------------------------------------------

locals {
  cluster                   = var.create_cluster ? aws_eks_cluster.platform[0] : data.aws_eks_cluster.existing[0]
  cluster_name              = local.cluster.name
  cluster_endpoint          = local.cluster.endpoint
  cluster_ca_certificate    = local.cluster.certificate_authority[0].data
  cluster_security_group_id = local.cluster.vpc_config[0].cluster_security_group_id
  oidc_issuer               = replace(local.cluster.identity[0].oidc[0].issuer, "https://", "")
  oidc_provider_arn = (
    var.create_cluster
    ? aws_iam_openid_connect_provider.cluster[0].arn
    : data.aws_iam_openid_connect_provider.existing[0].arn
  )
}

# --- Shared volume for step outputs (ReadWriteMany) ------------------------------------

# deploy/k8s/io-volume.yaml asks for a ReadWriteMany volume (MLOPS_IO_ROOT): on EKS that
# is EFS, through the EFS CSI driver and the StorageClass of charts/mlops-aws.
resource "aws_efs_file_system" "io" {
  creation_token = "${var.name}-mlops-io"
  encrypted      = true
  kms_key_id     = aws_kms_key.platform.arn
}

resource "aws_security_group" "efs" {
  name        = "${var.name}-efs"
  description = "EFS of ${var.name}: NFS from the cluster only"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "efs_from_cluster" {
  security_group_id            = aws_security_group.efs.id
  description                  = "NFS from the EKS cluster security group"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = local.cluster_security_group_id
}

resource "aws_efs_mount_target" "io" {
  for_each        = toset(var.private_subnet_ids)
  file_system_id  = aws_efs_file_system.io.id
  subnet_id       = each.value
  security_groups = [aws_security_group.efs.id]
}

resource "aws_eks_addon" "efs_csi" {
  count                    = var.efs_csi_driver_addon ? 1 : 0
  cluster_name             = local.cluster_name
  addon_name               = "aws-efs-csi-driver"
  service_account_role_arn = aws_iam_role.efs_csi.arn
  depends_on               = [aws_eks_node_group.platform]
}
