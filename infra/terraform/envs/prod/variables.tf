variable "environment" {
  description = "Environment name; this directory is prod."
  type        = string
  default     = "prod"
}

variable "account_id" {
  description = "The AWS account of this environment; the providers refuse any other."
  type        = string
}

variable "region" {
  description = "Primary region."
  type        = string
  default     = "us-east-1"
}

variable "dr_region" {
  description = "Disaster-recovery region receiving backup copies."
  type        = string
  default     = "us-west-2"
}

variable "repository" {
  description = "Source repository, written into the Repository tag."
  type        = string
  default     = "dynasty-futures/backend"
}

variable "availability_zones" {
  description = "Availability zones of the primary region."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b", "us-east-1c"]
}

variable "vpc_cidr_block" {
  description = "IPv4 range of the VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "single_nat_gateway" {
  description = "Cost switch: one NAT gateway instead of one per AZ (prod keeps one per AZ)."
  type        = bool
  default     = false
}

variable "domain_name" {
  description = "Apex domain of the hosted zone."
  type        = string
}

variable "yourpropfirm_api_base_url" {
  description = "Base URL of the YourPropFirm platform API given by YourPropFirm for this environment."
  type        = string
}

variable "route53_zone_id" {
  description = "Id of the public hosted zone of domain_name."
  type        = string
}

variable "dmarc_report_address" {
  description = "Mailbox receiving DMARC aggregate reports."
  type        = string
}

variable "image_digest" {
  description = "Digest of the first image pushed to ECR (bootstrapping step 7); later releases are deployed by CD."
  type        = string
}

variable "service_sizes" {
  description = "Fargate CPU, memory and task-count bounds per service."
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
}

variable "fargate_spot_weight_percent" {
  description = "Share of tasks above each base placed on Fargate Spot."
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

variable "alert_email_addresses" {
  description = "Addresses subscribed to the alert topic."
  type        = list(string)
  default     = []
}

variable "monthly_budget_usd" {
  description = "Monthly cost budget in US dollars (docs/infrastructure.md estimates the seed scale)."
  type        = number
  default     = 6500
}
