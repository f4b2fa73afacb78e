output "secret_arns" {
  description = "ARN of each secret, keyed by its path below the prefix (stripe/api-key, jwt/signing-keys, ...)."
  value       = { for key, secret in aws_secretsmanager_secret.this : key => secret.arn }
}
