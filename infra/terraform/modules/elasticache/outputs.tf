output "primary_endpoint_address" {
  description = "Primary endpoint (TLS on the configured port)."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "reader_endpoint_address" {
  description = "Reader endpoint spreading reads over the replicas."
  value       = aws_elasticache_replication_group.this.reader_endpoint_address
}

output "redis_url_secret_arn" {
  description = "Secret holding REDIS_URL, injected into the tasks by ECS."
  value       = aws_secretsmanager_secret.redis_url.arn
}

output "replication_group_id" {
  description = "Id of the replication group, for alarms."
  value       = aws_elasticache_replication_group.this.id
}
