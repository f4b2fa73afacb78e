variable "repository_name" {
  description = "Name of the one repository every service's image is pushed to, e.g. dynasty-prod-backend."
  type        = string
}

variable "artifacts_kms_key_arn" {
  description = "Customer-managed KMS key (artifacts class) that encrypts the images."
  type        = string
}

variable "images_to_keep" {
  description = "Number of most recent images kept; older ones expire (each deploy is one image)."
  type        = number
  default     = 100
}

variable "tags" {
  description = "Tags applied to every resource of the module, merged with the provider's default tags."
  type        = map(string)
  default     = {}
}
