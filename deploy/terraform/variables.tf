# Inputs of the module. No variable takes a secret: passwords and keys live in
# AWS Secrets Manager and reach the pods through the External Secrets Operator.

variable "name" {
  description = "Prefix of every AWS resource name (letters, digits and hyphens)."
  type        = string
  default     = "mlops"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name))
    error_message = "name must be 2 to 21 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  description = "AWS region of every resource, for example eu-west-1."
  type        = string
}

variable "tags" {
  description = "Tags added to every AWS resource."
  type        = map(string)
  default     = {}
}

# --- Network -------------------------------------------------------------------

variable "vpc_id" {
  description = "The VPC that holds the cluster, the database and the file system."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets (at least two, in different availability zones) for the nodes, the database and the file system."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "private_subnet_ids needs at least two subnets in different availability zones."
  }
}

# --- Kubernetes ------------------------------------------------------------------

variable "create_cluster" {
  description = "true: create an EKS cluster named cluster_name; false: use the existing EKS cluster of that name (it must have an IAM OIDC provider)."
  type        = bool
  default     = true
}

variable "cluster_name" {
  description = "Name of the EKS cluster to create, or of the existing one to use."
  type        = string
}

variable "kubernetes_version" {
  description = "Kubernetes version of a created cluster."
  type        = string
  default     = "1.33"
}

variable "cluster_endpoint_public_access" {
  description = "Expose a created cluster's API endpoint on the internet (restricted to cluster_public_access_cidrs). Off by default: reach it from inside the VPC (VPN, bastion, CI runner in the VPC)."
  type        = bool
  default     = false
}

variable "cluster_public_access_cidrs" {
  description = "CIDR blocks allowed to reach the public API endpoint when cluster_endpoint_public_access is true."
  type        = list(string)
  default     = []

  validation {
    condition     = !contains(var.cluster_public_access_cidrs, "0.0.0.0/0")
    error_message = "cluster_public_access_cidrs must not contain 0.0.0.0/0: name the networks that administer the cluster."
  }
}

variable "node_instance_types" {
  description = "EC2 instance types of the node group of a created cluster."
  type        = list(string)
  default     = ["m6i.xlarge"]
}

variable "node_min_size" {
  description = "Smallest number of nodes of a created cluster."
  type        = number
  default     = 2
}

variable "node_desired_size" {
  description = "Initial number of nodes of a created cluster."
  type        = number
  default     = 3
}

variable "node_max_size" {
  description = "Largest number of nodes of a created cluster."
  type        = number
  default     = 6
}

variable "efs_csi_driver_addon" {
  description = "Install the EFS CSI driver as an EKS add-on (needed for the ReadWriteMany volume mlops-io). Set false on an existing cluster that already runs the driver."
  type        = bool
  default     = true
}

# --- Storage and database ----------------------------------------------------------

variable "noncurrent_version_retention_days" {
  description = "Days a replaced or deleted object version is kept in the buckets before it expires (Delta time travel beyond VACUUM, MLflow artifact recovery)."
  type        = number
  default     = 90
}

variable "db_instance_class" {
  description = "RDS instance class of the PostgreSQL database."
  type        = string
  default     = "db.m6g.large"
}

variable "db_engine_version" {
  description = "PostgreSQL major version of the database."
  type        = string
  default     = "16"
}

variable "db_allocated_storage" {
  description = "Initial storage of the database, in GiB."
  type        = number
  default     = 50
}

variable "db_max_allocated_storage" {
  description = "Storage autoscaling limit of the database, in GiB."
  type        = number
  default     = 500
}

variable "db_backup_retention_days" {
  description = "Days of automated database backups (point-in-time recovery window)."
  type        = number
  default     = 14

  validation {
    condition     = var.db_backup_retention_days >= 7
    error_message = "db_backup_retention_days must be at least 7."
  }
}

variable "db_multi_az" {
  description = "Run the database with a standby in a second availability zone."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Days the cluster's control-plane logs are kept in CloudWatch."
  type        = number
  default     = 365
}

# --- The platform ------------------------------------------------------------------

variable "image_repository" {
  description = "The project image without its tag, as the image workflow pushes it (REGISTRY/IMAGE_NAME)."
  type        = string
}

variable "image_tag" {
  description = "Tag of the project image to run: a git sha or a release version, never a moving tag such as latest."
  type        = string

  validation {
    condition     = var.image_tag != "latest"
    error_message = "image_tag must name one build (a git sha or a version): run pods use the image the code server reports."
  }
}

variable "dagster_chart_version" {
  description = "Version of the dagster/dagster Helm chart: the locked dagster version (uv.lock)."
  type        = string
  default     = "1.13.27"
}

variable "external_secrets_chart_version" {
  description = "Version of the external-secrets Helm chart."
  type        = string
  default     = "2.9.0"
}
