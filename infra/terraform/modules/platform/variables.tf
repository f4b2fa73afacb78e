variable "project" {
  description = "Project name, the first part of every resource name (dynasty)."
  type        = string
  default     = "dynasty"
}

variable "environment" {
  description = "Environment name, the second part of every resource name (prod, staging, dev)."
  type        = string

  validation {
    condition     = contains(["prod", "staging", "dev"], var.environment)
    error_message = "environment must be prod, staging or dev."
  }
}

variable "name_suffix" {
  description = "Appended to <project>-<environment> in every name; a DR rebuild in another region uses e.g. -usw2 (docs/runbooks/disaster-recovery.md)."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^(-[a-z0-9]+)?$", var.name_suffix))
    error_message = "name_suffix is empty or a dash followed by lowercase letters and digits."
  }
}

variable "availability_zones" {
  description = "Availability zones of the primary region used by every tier."
  type        = list(string)
}

variable "vpc_cidr_block" {
  description = "IPv4 range of the VPC (different per environment so they can be peered later)."
  type        = string
}

variable "single_nat_gateway" {
  description = "Cost switch: one NAT gateway for all AZs instead of one per AZ."
  type        = bool
  default     = false
}

variable "domain_name" {
  description = "Apex domain whose Route 53 zone already exists in this account, e.g. dynastyfutures.com."
  type        = string
}

variable "yourpropfirm_api_base_url" {
  description = "Base URL of the YourPropFirm platform API (challenges provisions accounts there; rules enforces)."
  type        = string
}

variable "route53_zone_id" {
  description = "Id of the public hosted zone of domain_name."
  type        = string
}

variable "api_subdomain" {
  description = "Label of the API below domain_name (api gives api.dynastyfutures.com)."
  type        = string
  default     = "api"
}

variable "dmarc_report_address" {
  description = "Mailbox receiving DMARC aggregate reports."
  type        = string
}

variable "image_digest" {
  description = "Digest of the first image the services start with (bootstrapping); CD deploys later releases."
  type        = string
}

variable "service_sizes" {
  description = "Fargate CPU units, memory (MiB) and task-count bounds per service."
  type = map(object({
    cpu       = number
    memory    = number
    min_count = number
    max_count = number
  }))
  default = {
    gateway    = { cpu = 1024, memory = 2048, min_count = 3, max_count = 24 }
    identity   = { cpu = 512, memory = 1024, min_count = 2, max_count = 12 }
    challenges = { cpu = 512, memory = 1024, min_count = 2, max_count = 12 }
    rules      = { cpu = 1024, memory = 2048, min_count = 3, max_count = 24 }
    payouts    = { cpu = 512, memory = 1024, min_count = 2, max_count = 6 }
  }

  validation {
    condition     = alltrue([for service in ["gateway", "identity", "challenges", "rules", "payouts"] : contains(keys(var.service_sizes), service)])
    error_message = "service_sizes needs gateway, identity, challenges, rules and payouts."
  }
}

variable "fargate_spot_weight_percent" {
  description = "Share of tasks above each service's base placed on Fargate Spot (cost lever)."
  type        = number
  default     = 0
}

variable "aurora" {
  description = "Aurora capacity and backups."
  type = object({
    capacity_mode         = string
    serverless_min_acu    = number
    serverless_max_acu    = number
    reader_count          = number
    reader_max_count      = number
    backup_retention_days = number
  })
  default = {
    capacity_mode         = "serverless"
    serverless_min_acu    = 2
    serverless_max_acu    = 32
    reader_count          = 1
    reader_max_count      = 4
    backup_retention_days = 14
  }
}

variable "cache_node_type" {
  description = "ElastiCache node size."
  type        = string
  default     = "cache.r7g.large"
}

variable "blocked_country_codes" {
  description = "Countries refused at the edge and the ALB (sanctioned jurisdictions)."
  type        = list(string)
  default     = ["CU", "IR", "KP", "SY"]
}

variable "edge_logs_kms_key_arn" {
  description = "Logs key in us-east-1 for the CloudFront and edge WAF log groups; empty when the primary region is us-east-1 and its logs key serves."
  type        = string
  default     = ""
}

variable "alert_email_addresses" {
  description = "Addresses subscribed to the alert topic."
  type        = list(string)
  default     = []
}

variable "monthly_budget_usd" {
  description = "Monthly cost budget of the environment in US dollars."
  type        = number
}

variable "deletion_protection" {
  description = "Deletion protection of Aurora and the ALB; only a disposable dev environment turns it off."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags the modules put on their resources next to the provider's default tags (the same map in every env)."
  type        = map(string)
  default     = {}
}
