# Terraform and provider versions, pinned exactly: an upgrade is a reviewed change
# (edit here, `terraform init -upgrade`, commit .terraform.lock.hcl).
terraform {
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "6.31.0"
    }
    helm = {
      source  = "hashicorp/helm"
      version = "3.1.2"
    }
    kustomization = {
      source  = "kbst/kustomization"
      version = "0.9.8"
    }
    tls = {
      source  = "hashicorp/tls"
      version = "4.1.0"
    }
  }

  # State holds resource ids and attributes (never a secret value: the database
  # password is managed by RDS and the platform's secrets live in Secrets Manager).
  # Keep it in an encrypted, versioned bucket of your own:
  #   terraform init -backend-config=backend.hcl   (docs/terraform.md, step 2)
  backend "s3" {}
}
