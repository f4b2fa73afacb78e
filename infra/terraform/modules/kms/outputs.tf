output "key_arns" {
  description = "ARN of the customer-managed key of each data class, by class name."
  value       = { for class, key in aws_kms_key.this : class => key.arn }
}

output "key_ids" {
  description = "Id of the customer-managed key of each data class, by class name."
  value       = { for class, key in aws_kms_key.this : class => key.key_id }
}

output "alias_names" {
  description = "Alias of each key, by class name."
  value       = { for class, alias in aws_kms_alias.this : class => alias.name }
}

output "mac_key_arn" {
  description = "ARN of the HMAC key identity uses for derived secrets (DYNASTY_IDENTITY_KMS_MAC_KEY_ID)."
  value       = aws_kms_key.mac.arn
}
