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
