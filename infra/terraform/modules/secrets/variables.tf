variable "name" {
  description = "Name prefix of every secret, e.g. dynasty-prod (secrets are named <name>/<provider>/<purpose>)."
  type        = string
}

variable "secrets_kms_key_arn" {
  description = "Customer-managed KMS key (secrets class) that encrypts every secret."
  type        = string
}

variable "recovery_window_in_days" {
  description = "Days a deleted secret can still be restored."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags applied to every resource of the module, merged with the provider's default tags."
  type        = map(string)
  default     = {}
}
