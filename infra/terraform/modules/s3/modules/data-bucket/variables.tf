variable "bucket_name" {
  description = "Globally unique name of the bucket."
  type        = string
}

variable "purpose" {
  description = "What the bucket holds, written into its Purpose tag."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key that encrypts every object; objects under any other key are refused."
  type        = string
}

variable "access_logs_bucket" {
  description = "Bucket receiving this bucket's server access logs."
  type        = string
}

variable "access_logs_prefix" {
  description = "Key prefix of this bucket's server access logs."
  type        = string
}

variable "infrequent_after_days" {
  description = "Days after which objects move to STANDARD_IA; null skips that tier."
  type        = number
  default     = null
}

variable "archive_after_days" {
  description = "Days after which objects move to GLACIER_IR."
  type        = number
}

variable "expire_after_days" {
  description = "Days after which objects expire, per the data-retention policy."
  type        = number
}

variable "noncurrent_days" {
  description = "Days a replaced or deleted version is kept."
  type        = number
}

variable "object_lock_years" {
  description = "Compliance-mode object lock retention in years; 0 leaves object lock off."
  type        = number
  default     = 0
}

variable "extra_policy_json" {
  description = "Further bucket policy statements (JSON policy document), e.g. for AWS services that deliver into the bucket."
  type        = string
  default     = ""
}

variable "refuse_other_keys" {
  description = "Refuse uploads that name a KMS key other than kms_key_arn (off where AWS services name the key their own way)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags applied to every resource of the module, merged with the provider's default tags."
  type        = map(string)
  default     = {}
}
