output "api_url" {
  description = "Public base URL of the API."
  value       = module.cloudfront.api_url
}

output "ecr_repository_url" {
  description = "Where CD pushes the image."
  value       = module.ecr.repository_url
}

output "ecs_cluster_name" {
  description = "ECS cluster of the services."
  value       = module.ecs.cluster_name
}

output "ecs_service_names" {
  description = "ECS service of each process."
  value       = module.ecs.service_names
}

output "task_definition_families" {
  description = "Task definition family of each service."
  value       = module.ecs.task_definition_families
}

output "migration_task_definition_families" {
  description = "One-off migration task definition family of each service."
  value       = module.ecs.migration_task_definition_families
}

output "private_app_subnet_ids" {
  description = "Subnets CD runs the migration tasks in."
  value       = module.network.private_app_subnet_ids
}

output "app_security_group_id" {
  description = "Security group CD gives the migration tasks."
  value       = module.network.app_security_group_id
}

output "aurora_cluster_arn" {
  description = "Aurora cluster (Data API target of the role bootstrap)."
  value       = module.aurora.cluster_arn
}

output "aurora_master_user_secret_arn" {
  description = "Master credentials secret (Data API secret of the role bootstrap)."
  value       = module.aurora.master_user_secret_arn
}

output "aurora_writer_endpoint" {
  description = "Writer endpoint of Aurora."
  value       = module.aurora.writer_endpoint
}

output "service_database_url_secret_arns" {
  description = "DATABASE_URL secret of each service, filled by the role bootstrap."
  value       = module.aurora.service_database_url_secret_arns
}

output "service_role_sql" {
  description = "SQL creating each service's login role and schema."
  value       = module.aurora.service_role_sql
}

output "secret_arns" {
  description = "Secrets whose values an operator puts (Stripe, YourPropFirm, JWT)."
  value       = module.secrets.secret_arns
}

output "alert_topic_arn" {
  description = "SNS topic of every alert."
  value       = module.observability.alert_topic_arn
}

output "nat_gateway_public_ips" {
  description = "Egress addresses to allow-list at Stripe and YourPropFirm."
  value       = module.network.nat_gateway_public_ips
}

output "dr_backup_vault_arn" {
  description = "Vault in the DR region holding the daily Aurora copies."
  value       = module.backup.dr_vault_arn
}
