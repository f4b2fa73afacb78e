variable "name" {
  description = "Name prefix of every key alias, e.g. dynasty-prod."
  type        = string
}

variable "data_classes" {
  description = "One customer-managed key is created per data class; other modules look their key up by class name."
  type        = list(string)
  default     = ["database", "cache", "documents", "logs", "secrets", "artifacts"]

  validation {
    condition     = alltrue([for class in ["database", "cache", "documents", "logs", "secrets"] : contains(var.data_classes, class)])
    error_message = "The data classes database, cache, documents, logs and secrets are required by the platform."
  }
}

variable "rotation_period_in_days" {
  description = "Days between automatic rotations of each key's material (AWS allows 90 to 2560)."
  type        = number
  default     = 365
}

variable "deletion_window_in_days" {
  description = "Waiting period before a scheduled key deletion takes effect; the longest window leaves time to cancel a mistake."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags applied to every resource of the module, merged with the provider's default tags."
  type        = map(string)
  default     = {}
}
