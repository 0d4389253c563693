provider "aws" {
  region = var.region

  default_tags {
    tags = merge(var.tags, { "app.kubernetes.io/part-of" = "mlops-assets" })
  }
}

# Both Kubernetes-facing providers authenticate with a short-lived token from
# `aws eks get-token` (the AWS CLI on the machine that runs Terraform), never with a
# credential written into the configuration or the state.
provider "helm" {
  kubernetes = {
    host                   = local.cluster_endpoint
    cluster_ca_certificate = base64decode(local.cluster_ca_certificate)
    exec = {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--cluster-name", local.cluster_name, "--region", var.region]
    }
  }
}

provider "kustomization" {
  kubeconfig_raw = yamlencode({
    apiVersion      = "v1"
    kind            = "Config"
    current-context = local.cluster_name
    clusters = [{
      name = local.cluster_name
      cluster = {
        server                     = local.cluster_endpoint
        certificate-authority-data = local.cluster_ca_certificate
      }
    }]
    contexts = [{
      name    = local.cluster_name
      context = { cluster = local.cluster_name, user = local.cluster_name }
    }]
    users = [{
      name = local.cluster_name
      user = {
        exec = {
          apiVersion = "client.authentication.k8s.io/v1beta1"
          command    = "aws"
          args       = ["eks", "get-token", "--cluster-name", local.cluster_name, "--region", var.region]
        }
      }
    }]
  })
}
