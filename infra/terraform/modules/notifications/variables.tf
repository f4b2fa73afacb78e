variable "name" {
  description = "Name prefix of every resource, e.g. dynasty-prod."
  type        = string
}

variable "region" {
  description = "Region SES sends from (the MAIL FROM MX record points at its feedback endpoint)."
  type        = string
}

variable "email_domain" {
  description = "Domain the platform sends email from, verified in SES with DKIM (e.g. dynastyfutures.com)."
  type        = string
}

variable "route53_zone_id" {
  description = "Hosted zone of email_domain, where the DKIM, MAIL FROM and DMARC records are written."
  type        = string
}

variable "dmarc_report_address" {
  description = "Mailbox receiving DMARC aggregate reports."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key (documents class) that encrypts the feedback topic; SES may use it."
  type        = string
}

variable "sms_sender_id" {
  description = "Alphanumeric sender id shown on SMS where carriers allow it."
  type        = string
  default     = "DYNASTY"
}

variable "sms_monthly_spend_limit_usd" {
  description = "Hard monthly cap on SMS spend, in whole US dollars."
  type        = number
  default     = 500
}

variable "tags" {
  description = "Tags applied to every resource of the module, merged with the provider's default tags."
  type        = map(string)
  default     = {}
}
