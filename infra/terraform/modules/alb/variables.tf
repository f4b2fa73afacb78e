variable "name" {
  description = "Name prefix, e.g. dynasty-prod (the ALB is <name>-alb)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the ALB and its targets."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets, one per availability zone."
  type        = list(string)
}

variable "app_security_group_id" {
  description = "Security group of the tasks; the module lets the ALB reach the gateway port in it."
  type        = string
}

variable "target_port" {
  description = "Port the gateway container listens on."
  type        = number
  default     = 8080
}

variable "origin_domain_name" {
  description = "Name CloudFront uses to reach the ALB, e.g. origin-api.dynastyfutures.com; the certificate is issued for it."
  type        = string
}

variable "route53_zone_id" {
  description = "Hosted zone of origin_domain_name (certificate validation and alias record)."
  type        = string
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener: TLS 1.3 and 1.2 with forward-secret ciphers only."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"
}

variable "access_logs_bucket" {
  description = "Bucket (SSE-S3) receiving the access logs under alb/."
  type        = string
}

variable "web_acl_arn" {
  description = "Regional WAF web ACL associated with the ALB."
  type        = string
}

variable "origin_verify_header_name" {
  description = "Header CloudFront adds with a shared secret; requests without it are refused."
  type        = string
  default     = "X-Origin-Verify"
}

variable "allow_direct_internet_ingress" {
  description = "Open 443 to the whole internet instead of CloudFront's prefix list (only while CloudFront is not in front)."
  type        = bool
  default     = false
}

variable "deletion_protection" {
  description = "Refuse to delete the load balancer."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags applied to every resource of the module, merged with the provider's default tags."
  type        = map(string)
  default     = {}
}
