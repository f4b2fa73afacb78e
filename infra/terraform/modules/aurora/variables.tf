variable "name" {
  description = "Cluster identifier and name prefix, e.g. dynasty-prod-aurora."
  type        = string
}

variable "subnet_ids" {
  description = "Isolated data subnets, one per availability zone."
  type        = list(string)
}

variable "availability_zones" {
  description = "Availability zones the writer and readers are spread over, in order."
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group of the data tier (admits the app tasks on 5432)."
  type        = string
}

variable "engine_version" {
  description = "Aurora PostgreSQL version."
  type        = string
  default     = "16.6"
}

variable "parameter_group_family" {
  description = "Parameter group family matching engine_version."
  type        = string
  default     = "aurora-postgresql16"
}

variable "database_name" {
  description = "The one database; each service owns a schema in it."
  type        = string
  default     = "dynasty"
}

variable "service_schemas" {
  description = "Services that each get a login role and a schema of their own."
  type        = list(string)
  default     = ["identity", "challenges", "rules", "payouts"]
}

variable "capacity_mode" {
  description = "serverless (Aurora Serverless v2, scales in ACUs) or provisioned (fixed instance class)."
  type        = string
  default     = "serverless"

  validation {
    condition     = contains(["serverless", "provisioned"], var.capacity_mode)
    error_message = "capacity_mode must be serverless or provisioned."
  }
}

variable "serverless_min_acu" {
  description = "Lowest Serverless v2 capacity of each instance, in ACUs (1 ACU is about 2 GiB of memory)."
  type        = number
  default     = 2
}

variable "serverless_max_acu" {
  description = "Highest Serverless v2 capacity of each instance, in ACUs."
  type        = number
  default     = 32
}

variable "provisioned_instance_class" {
  description = "Instance class when capacity_mode is provisioned."
  type        = string
  default     = "db.r7g.large"
}

variable "reader_count" {
  description = "Readers created up front (and the auto-scaling minimum)."
  type        = number
  default     = 1

  validation {
    condition     = var.reader_count >= 1
    error_message = "At least one reader is needed for a fast failover of the writer."
  }
}

variable "reader_max_count" {
  description = "Most readers auto-scaling may run."
  type        = number
  default     = 4
}

variable "reader_target_cpu_percent" {
  description = "Average reader CPU that reader auto-scaling holds."
  type        = number
  default     = 60
}

variable "backup_retention_days" {
  description = "Days of automated backups, and so the window of point-in-time recovery."
  type        = number
  default     = 14

  validation {
    condition     = var.backup_retention_days >= 14 && var.backup_retention_days <= 35
    error_message = "Backups are kept between 14 and 35 days."
  }
}

variable "deletion_protection" {
  description = "Refuse to delete the cluster; turned off only to tear down a non-production environment."
  type        = bool
  default     = true
}

variable "performance_insights_retention_days" {
  description = "Days of Performance Insights history (7 is free)."
  type        = number
  default     = 7
}

variable "slow_query_log_ms" {
  description = "Statements slower than this are logged."
  type        = number
  default     = 500
}

variable "database_kms_key_arn" {
  description = "Customer-managed KMS key (database class) for storage, snapshots and Performance Insights."
  type        = string
}

variable "secrets_kms_key_arn" {
  description = "Customer-managed KMS key (secrets class) of the master and service secrets."
  type        = string
}

variable "tags" {
  description = "Tags applied to every resource of the module, merged with the provider's default tags."
  type        = map(string)
  default     = {}
}
