variable "environment" {
  description = "Environment whose account is bootstrapped."
  type        = string
  default     = "prod"
}

variable "account_id" {
  description = "The AWS account being bootstrapped; the provider refuses any other."
  type        = string
}

variable "region" {
  description = "Primary region (the state bucket and lock table live here)."
  type        = string
  default     = "us-east-1"
}

variable "github_repository" {
  description = "owner/name of the GitHub repository whose workflows may assume the roles."
  type        = string
}
