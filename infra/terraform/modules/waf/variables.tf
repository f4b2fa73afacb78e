variable "name" {
  description = "Name of the web ACL, e.g. dynasty-prod-alb or dynasty-prod-edge."
  type        = string
}

variable "scope" {
  description = "REGIONAL for the ALB, CLOUDFRONT for the distribution (then the provider must be us-east-1)."
  type        = string

  validation {
    condition     = contains(["REGIONAL", "CLOUDFRONT"], var.scope)
    error_message = "scope must be REGIONAL or CLOUDFRONT."
  }
}

variable "rate_limit_per_5_minutes" {
  description = "Requests one IP may send in a 5-minute window before it is blocked (a trader's dashboard polls about 1 request a second)."
  type        = number
  default     = 3000
}

variable "blocked_country_codes" {
  description = "ISO 3166 alpha-2 codes of countries blocked outright (sanctioned jurisdictions); empty disables the rule."
  type        = list(string)
  default     = ["CU", "IR", "KP", "SY"]
}

variable "logs_kms_key_arn" {
  description = "Customer-managed KMS key (logs class) of the WAF log group, in the same region as the web ACL."
  type        = string
}

variable "log_retention_in_days" {
  description = "Days to keep WAF logs."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags applied to every resource of the module, merged with the provider's default tags."
  type        = map(string)
  default     = {}
}
