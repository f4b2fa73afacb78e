variable "name" {
  description = "Name prefix, e.g. dynasty-prod."
  type        = string
}

variable "api_domain_name" {
  description = "Public name of the API, e.g. api.dynastyfutures.com."
  type        = string
}

variable "route53_zone_id" {
  description = "Hosted zone of api_domain_name (certificate validation and alias records)."
  type        = string
}

variable "origin_domain_name" {
  description = "Name of the ALB origin, covered by the ALB's certificate."
  type        = string
}

variable "origin_verify_header_name" {
  description = "Header CloudFront adds so the ALB can tell its traffic from anyone else's."
  type        = string
}

variable "origin_verify_header_value" {
  description = "Secret value of the verify header."
  type        = string
  sensitive   = true
}

variable "web_acl_arn" {
  description = "CLOUDFRONT-scoped WAF web ACL (created in us-east-1)."
  type        = string
}

variable "blocked_country_codes" {
  description = "ISO 3166 alpha-2 codes of countries refused at the edge (sanctioned jurisdictions)."
  type        = list(string)
  default     = ["CU", "IR", "KP", "SY"]
}

variable "price_class" {
  description = "Edge locations used; PriceClass_100 (North America and Europe) is the cheapest and covers the customer base."
  type        = string
  default     = "PriceClass_100"
}

variable "logs_kms_key_arn" {
  description = "Customer-managed KMS key (logs class) of the access-log group, in us-east-1."
  type        = string
}

variable "log_retention_in_days" {
  description = "Days to keep the access logs."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags applied to every resource of the module, merged with the provider's default tags."
  type        = map(string)
  default     = {}
}
