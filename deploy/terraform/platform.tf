# The platform on the cluster, in the order it needs:
#   1. the namespace (deploy/k8s/namespace.yaml);
#   2. the External Secrets Operator, then charts/mlops-aws: the Secrets the pods read
#      (copied from Secrets Manager), the IRSA service account and the EFS StorageClass;
#   3. the manifests of deploy/k8s/ (settings, shared volume, MLflow, exporter), built by
#      kustomize from the committed kustomization with the AWS patches of patches/;
#   4. Dagster's official Helm chart with the committed deploy/k8s/dagster-values.yaml.

locals {
  # Relative to the working directory: kustomize refuses an absolute base.
  k8s_dir = "${path.module}/../k8s"
  # The base kustomization already renames the image `mlops-assets`; the overlay
  # renames that name again, to the image this module runs.
  base_image      = yamldecode(file("${local.k8s_dir}/kustomization.yaml")).images[0].newName
  irsa_annotation = "eks\\.amazonaws\\.com/role-arn"
}

data "kustomization_overlay" "platform" {
  resources = [local.k8s_dir]

  images {
    name     = local.base_image
    new_name = var.image_repository
    new_tag  = var.image_tag
  }

  patches {
    patch = templatefile("${path.module}/patches/settings.yaml.tftpl", {
      data_root             = local.data_root
      region                = var.region
      delta_lock_table      = aws_dynamodb_table.delta_log.name
      artifacts_destination = local.artifacts_destination
    })
  }
  patches {
    patch = file("${path.module}/patches/mlflow-irsa.yaml")
  }
  patches {
    patch = file("${path.module}/patches/serving-irsa.yaml")
  }
  patches {
    patch = file("${path.module}/patches/io-volume-efs.yaml")
  }
}

# 1. Namespaces (and any CRD) first.
resource "kustomization_resource" "p0" {
  for_each   = data.kustomization_overlay.platform.ids_prio[0]
  manifest   = data.kustomization_overlay.platform.manifests[each.value]
  depends_on = [aws_eks_node_group.platform]
}

# 2. Secrets from Secrets Manager.
resource "helm_release" "external_secrets" {
  name             = "external-secrets"
  repository       = "https://charts.external-secrets.io"
  chart            = "external-secrets"
  version          = var.external_secrets_chart_version
  namespace        = "external-secrets"
  create_namespace = true
  wait             = true

  set = [
    { name = "installCRDs", value = "true" },
    { name = "serviceAccount.name", value = "external-secrets" },
    { name = "serviceAccount.annotations.${local.irsa_annotation}", value = aws_iam_role.external_secrets.arn },
  ]

  depends_on = [aws_eks_node_group.platform]
}

resource "helm_release" "mlops_aws" {
  name      = "mlops-aws"
  chart     = "${path.module}/charts/mlops-aws"
  namespace = local.namespace
  wait      = true

  values = [yamlencode({
    region = var.region
    platformSecret = {
      name = aws_secretsmanager_secret.platform.name
    }
    database = {
      host = aws_db_instance.platform.address
      port = aws_db_instance.platform.port
    }
    serviceAccount = {
      name    = "mlops-platform"
      roleArn = aws_iam_role.platform.arn
    }
    efs = {
      fileSystemId = aws_efs_file_system.io.id
    }
  })]

  depends_on = [
    kustomization_resource.p0,
    helm_release.external_secrets,
    aws_eks_addon.efs_csi,
    aws_efs_mount_target.io,
  ]
}

# 3. The committed manifests.
resource "kustomization_resource" "p1" {
  for_each   = data.kustomization_overlay.platform.ids_prio[1]
  manifest   = data.kustomization_overlay.platform.manifests[each.value]
  depends_on = [kustomization_resource.p0, helm_release.mlops_aws]
}

resource "kustomization_resource" "p2" {
  for_each   = data.kustomization_overlay.platform.ids_prio[2]
  manifest   = data.kustomization_overlay.platform.manifests[each.value]
  depends_on = [kustomization_resource.p1]
}

# 4. Dagster: the committed values file as it is, then only what this module knows
#    (the database host, the image, the IAM role of the service accounts).
resource "helm_release" "dagster" {
  name       = "dagster" # the exporter mounts the chart's ConfigMap dagster-instance
  repository = "https://dagster-io.github.io/helm"
  chart      = "dagster"
  version    = var.dagster_chart_version
  namespace  = local.namespace
  wait       = true
  timeout    = 900

  values = [file("${path.module}/../k8s/dagster-values.yaml")]

  set = [
    { name = "postgresql.postgresqlHost", value = aws_db_instance.platform.address },
    { name = "dagster-user-deployments.deployments[0].image.repository", value = var.image_repository },
    { name = "dagster-user-deployments.deployments[0].image.tag", value = var.image_tag, type = "string" },
    { name = "serviceAccount.annotations.${local.irsa_annotation}", value = aws_iam_role.platform.arn },
    { name = "dagster-user-deployments.serviceAccount.annotations.${local.irsa_annotation}", value = aws_iam_role.platform.arn },
  ]

  depends_on = [kustomization_resource.p1, helm_release.mlops_aws]
}
