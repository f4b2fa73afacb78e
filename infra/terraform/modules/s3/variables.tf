variable "name" {
  description = "Name prefix of every bucket, e.g. dynasty-prod; the account id is appended for global uniqueness."
  type        = string
}

variable "documents_kms_key_arn" {
  description = "Customer-managed KMS key (documents class) of the KYC, tax-form, report and audit-export buckets."
  type        = string
}

variable "logs_kms_key_arn" {
  description = "Customer-managed KMS key (logs class) of the CloudTrail and Config bucket."
  type        = string
}

variable "retention" {
  description = "Days each kind of object is kept, from docs/infrastructure.md (Data retention)."
  type = object({
    kyc_documents_days       = number
    tax_forms_days           = number
    reports_days             = number
    audit_exports_days       = number
    audit_trail_days         = number
    access_logs_days         = number
    noncurrent_versions_days = number
  })
  default = {
    kyc_documents_days       = 2555 # 7 years: 5 years after the account closes (BSA/AML) for accounts open up to 2 years
    tax_forms_days           = 2555 # 7 years: IRS assessment windows for 1099-NEC and backup withholding
    reports_days             = 730
    audit_exports_days       = 2585 # the 7-year object lock plus a month
    audit_trail_days         = 2555
    access_logs_days         = 400
    noncurrent_versions_days = 90
  }

  validation {
    condition     = var.retention.audit_exports_days >= var.audit_exports_lock_years * 365
    error_message = "Audit exports cannot expire before their object lock does."
  }
}

variable "audit_exports_lock_years" {
  description = "Object lock (compliance mode) retention of every audit export, in years."
  type        = number
  default     = 7
}

variable "tags" {
  description = "Tags applied to every resource of the module, merged with the provider's default tags."
  type        = map(string)
  default     = {}
}
