variable "name" {
  description = "Name prefix of every resource, e.g. dynasty-prod."
  type        = string
}

variable "cidr_block" {
  description = "IPv4 range of the VPC; a /16 leaves room for every tier in four AZs."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr_block, 0)) && tonumber(split("/", var.cidr_block)[1]) <= 16
    error_message = "cidr_block must be a valid IPv4 range of /16 or larger."
  }
}

variable "availability_zones" {
  description = "Availability zones to spread every tier over, named explicitly so the set never grows when AWS adds a zone."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 4
    error_message = "Give between 2 and 4 availability zones."
  }
}

variable "gateway_port" {
  description = "Port the gateway container listens on, reached by the ALB."
  type        = number
  default     = 8080
}

variable "single_nat_gateway" {
  description = "Cost switch: true runs one NAT gateway for all AZs (an AZ outage cuts egress), false runs one per AZ."
  type        = bool
  default     = false
}

variable "data_ports" {
  description = "Ports on which the app tier reaches the data tier (PostgreSQL, Redis)."
  type        = list(number)
  default     = [5432, 6379]
}

variable "mesh_port_range" {
  description = "Ports the services listen on inside the Service Connect mesh (gRPC 50051-50054; the gateway is reached from the ALB only)."
  type        = object({ from = number, to = number })
  default     = { from = 50051, to = 50054 }
}

variable "logs_kms_key_arn" {
  description = "Customer-managed KMS key (logs class) for the flow-log group."
  type        = string
}

variable "flow_log_retention_in_days" {
  description = "Days to keep VPC flow logs."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags applied to every resource of the module, merged with the provider's default tags."
  type        = map(string)
  default     = {}
}
