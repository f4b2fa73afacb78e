variable "name" {
  description = "Name prefix of every resource, e.g. dynasty-prod."
  type        = string
}

variable "project_tag_value" {
  description = "Value of the Project cost-allocation tag the budget is filtered on."
  type        = string
  default     = "dynasty"
}

variable "alert_email_addresses" {
  description = "Addresses subscribed to the alert topic (each must confirm); pager integrations subscribe to the same topic."
  type        = list(string)
  default     = []
}

variable "metrics_namespace" {
  description = "CloudWatch namespace the services publish their own metrics in."
  type        = string
  default     = "Dynasty"
}

variable "outbox_services" {
  description = "Services with a transactional outbox whose backlog is watched."
  type        = list(string)
  default     = ["identity", "challenges", "rules", "payouts"]
}

variable "rule_engine_lag_seconds" {
  description = "Alarm when the p99 delay between a fill and its rule evaluation exceeds this."
  type        = number
  default     = 5
}

variable "outbox_backlog_threshold" {
  description = "Alarm when a service's undelivered outbox events stay above this."
  type        = number
  default     = 1000
}

variable "http_5xx_rate_percent" {
  description = "Alarm when the share of 5xx responses exceeds this percentage."
  type        = number
  default     = 1
}

variable "latency_p99_seconds" {
  description = "Alarm when the p99 target response time exceeds this."
  type        = number
  default     = 1
}

variable "aurora_cpu_percent" {
  description = "Alarm when the Aurora writer's CPU stays above this percentage."
  type        = number
  default     = 80
}

variable "aurora_max_connections" {
  description = "Alarm when the writer's connections exceed this."
  type        = number
  default     = 800
}

variable "aurora_replica_lag_ms" {
  description = "Alarm when the readers lag the writer by more than this many milliseconds."
  type        = number
  default     = 1000
}

variable "alb_arn_suffix" {
  description = "ARN suffix of the ALB."
  type        = string
}

variable "target_group_arn_suffix" {
  description = "ARN suffix of the gateway target group."
  type        = string
}

variable "aurora_cluster_identifier" {
  description = "Identifier of the Aurora cluster."
  type        = string
}

variable "ecs_cluster_name" {
  description = "Name of the ECS cluster (dashboard)."
  type        = string
}

variable "ecs_service_names" {
  description = "ECS service names shown on the dashboard."
  type        = list(string)
}

variable "audit_trail_bucket_name" {
  description = "Bucket receiving CloudTrail and AWS Config deliveries."
  type        = string
}

variable "sensitive_bucket_arns" {
  description = "Buckets whose object-level reads and writes CloudTrail records (KYC documents, tax forms)."
  type        = list(string)
}

variable "logs_kms_key_arn" {
  description = "Customer-managed KMS key (logs class) of the trail, the log groups and the alert topic."
  type        = string
}

variable "log_retention_in_days" {
  description = "Days to keep the CloudTrail log group."
  type        = number
  default     = 365
}

variable "monthly_budget_usd" {
  description = "Monthly cost budget in US dollars; alerts at 80% actual and 100% forecast."
  type        = number
}

variable "cost_anomaly_threshold_usd" {
  description = "Cost anomalies with at least this total impact in US dollars are alerted."
  type        = number
  default     = 100
}

variable "tags" {
  description = "Tags applied to every resource of the module, merged with the provider's default tags."
  type        = map(string)
  default     = {}
}
