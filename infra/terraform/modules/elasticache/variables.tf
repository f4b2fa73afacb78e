variable "name" {
  description = "Replication group id and name prefix, e.g. dynasty-prod-cache."
  type        = string
}

variable "subnet_ids" {
  description = "Isolated data subnets, one per availability zone."
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group of the data tier (admits the app tasks on the Redis port)."
  type        = string
}

variable "engine" {
  description = "valkey (cheaper, wire-compatible) or redis."
  type        = string
  default     = "valkey"

  validation {
    condition     = contains(["valkey", "redis"], var.engine)
    error_message = "engine must be valkey or redis."
  }
}

variable "engine_version" {
  description = "Engine version; 7.2 or later for Valkey."
  type        = string
  default     = "8.0"
}

variable "parameter_group_family" {
  description = "Parameter group family matching engine and engine_version."
  type        = string
  default     = "valkey8"
}

variable "node_type" {
  description = "Node size; cache.r7g.large holds the seed scale's sessions and rate-limit windows with headroom."
  type        = string
  default     = "cache.r7g.large"
}

variable "replicas" {
  description = "Replicas next to the primary (at least one, in another AZ, for automatic failover)."
  type        = number
  default     = 1

  validation {
    condition     = var.replicas >= 1 && var.replicas <= 5
    error_message = "replicas must be between 1 and 5."
  }
}

variable "port" {
  description = "Port the nodes listen on."
  type        = number
  default     = 6379
}

variable "snapshot_retention_days" {
  description = "Days of daily snapshots kept (the cache holds no system of record)."
  type        = number
  default     = 7
}

variable "cache_kms_key_arn" {
  description = "Customer-managed KMS key (cache class) for encryption at rest."
  type        = string
}

variable "secrets_kms_key_arn" {
  description = "Customer-managed KMS key (secrets class) of the REDIS_URL secret."
  type        = string
}

variable "logs_kms_key_arn" {
  description = "Customer-managed KMS key (logs class) of the slow-log group."
  type        = string
}

variable "log_retention_in_days" {
  description = "Days to keep the slow log."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags applied to every resource of the module, merged with the provider's default tags."
  type        = map(string)
  default     = {}
}
