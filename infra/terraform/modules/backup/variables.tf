variable "name" {
  description = "Name prefix of the vaults, plan and role, e.g. dynasty-prod-backup."
  type        = string
}

variable "resource_arns" {
  description = "ARNs of the resources backed up (the Aurora cluster)."
  type        = list(string)
}

variable "database_kms_key_arn" {
  description = "Customer-managed KMS key (database class) of the primary vault."
  type        = string
}

variable "daily_retention_days" {
  description = "Days each daily recovery point is kept in the primary region."
  type        = number
  default     = 35
}

variable "dr_copy_retention_days" {
  description = "Days each daily copy is kept in the DR region."
  type        = number
  default     = 35
}

variable "monthly_retention_days" {
  description = "Days each monthly recovery point is kept."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags applied to every resource of the module, merged with the provider's default tags."
  type        = map(string)
  default     = {}
}
