variable "name" {
  description = "Cluster name and name prefix, e.g. dynasty-prod."
  type        = string
}

variable "environment" {
  description = "Environment name passed to the containers as DYNASTY_ENVIRONMENT (prod, staging, dev)."
  type        = string
}

variable "image_repository_url" {
  description = "ECR repository of the backend image."
  type        = string
}

variable "image_repository_arn" {
  description = "ARN of that repository, for the execution roles' pull permission."
  type        = string
}

variable "image_digest" {
  description = "Digest (sha256:...) of the image the task definitions start with; CD registers new revisions per release."
  type        = string

  validation {
    condition     = can(regex("^sha256:[0-9a-f]{64}$", var.image_digest))
    error_message = "image_digest must be an image digest (sha256:<64 hex>), never a tag."
  }
}

variable "cpu_architecture" {
  description = "X86_64, or ARM64 (Graviton, about 20% cheaper) once the image is built for it."
  type        = string
  default     = "X86_64"
}

variable "services" {
  description = "The gateway and the gRPC services: how each runs, scales and what it may touch."
  type = map(object({
    command                         = list(string)
    port                            = number
    protocol                        = string # http (gateway, behind the ALB) or grpc (Service Connect)
    cpu                             = number
    memory                          = number
    min_count                       = number
    max_count                       = number
    target_cpu_percent              = number
    target_requests_per_task_minute = number
    load_balanced                   = bool
    migrations                      = bool
    environment                     = map(string)
    secrets                         = map(string) # environment variable name => Secrets Manager ARN
    s3_bucket_arns                  = list(string)
    kms_key_arns                    = list(string)
    send_email                      = bool
    send_sms                        = bool
  }))

  validation {
    condition     = alltrue([for service in values(var.services) : contains(["http", "grpc"], service.protocol)])
    error_message = "protocol must be http or grpc."
  }

  validation {
    condition     = alltrue([for service in values(var.services) : service.min_count >= 2 && service.max_count >= service.min_count])
    error_message = "Every service runs at least two tasks (two AZs) and max_count >= min_count."
  }
}

variable "subnet_ids" {
  description = "Private app subnets the tasks run in."
  type        = list(string)
}

variable "app_security_group_id" {
  description = "Security group of every task."
  type        = string
}

variable "target_group_arn" {
  description = "ALB target group of the load-balanced service (the gateway)."
  type        = string
}

variable "alb_arn_suffix" {
  description = "ARN suffix of the ALB, for request-count scaling."
  type        = string
}

variable "target_group_arn_suffix" {
  description = "ARN suffix of the target group, for request-count scaling."
  type        = string
}

variable "deployment_alarm_names" {
  description = "CloudWatch alarms that roll a deployment back when they fire during it, by service."
  type        = map(list(string))
  default     = {}
}

variable "fargate_spot_weight_percent" {
  description = "Share of tasks above each service's base placed on Fargate Spot (0 keeps all on-demand)."
  type        = number
  default     = 0

  validation {
    condition     = var.fargate_spot_weight_percent >= 0 && var.fargate_spot_weight_percent < 100
    error_message = "fargate_spot_weight_percent must be 0 to 99."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace the services publish their own metrics in."
  type        = string
  default     = "Dynasty"
}

variable "ses_identity_arn" {
  description = "Verified SES domain the email-sending services may send from."
  type        = string
}

variable "ses_configuration_set_name" {
  description = "SES configuration set the email-sending services must use."
  type        = string
}

variable "secrets_kms_key_arn" {
  description = "Customer-managed KMS key (secrets class) the execution roles decrypt injected secrets with."
  type        = string
}

variable "logs_kms_key_arn" {
  description = "Customer-managed KMS key (logs class) of the log groups and ECS Exec sessions."
  type        = string
}

variable "log_retention_in_days" {
  description = "Days to keep the services' logs."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags applied to every resource of the module, merged with the provider's default tags."
  type        = map(string)
  default     = {}
}
