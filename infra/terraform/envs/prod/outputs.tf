output "api_url" {
  description = "Public base URL of the API."
  value       = module.platform.api_url
}

output "ecr_repository_url" {
  description = "Where CD pushes the image."
  value       = module.platform.ecr_repository_url
}

output "ecs_cluster_name" {
  description = "ECS cluster of the services."
  value       = module.platform.ecs_cluster_name
}

output "ecs_service_names" {
  description = "ECS service of each process."
  value       = module.platform.ecs_service_names
}

output "task_definition_families" {
  description = "Task definition family of each service."
  value       = module.platform.task_definition_families
}

output "migration_task_definition_families" {
  description = "One-off migration task definition family of each service."
  value       = module.platform.migration_task_definition_families
}

output "private_app_subnet_ids" {
  description = "Subnets of the migration tasks."
  value       = module.platform.private_app_subnet_ids
}

output "app_security_group_id" {
  description = "Security group of the migration tasks."
  value       = module.platform.app_security_group_id
}

output "aurora_cluster_arn" {
  description = "Aurora cluster ARN (role bootstrap)."
  value       = module.platform.aurora_cluster_arn
}

output "aurora_master_user_secret_arn" {
  description = "Master secret ARN (role bootstrap)."
  value       = module.platform.aurora_master_user_secret_arn
}

output "service_database_url_secret_arns" {
  description = "DATABASE_URL secret of each service."
  value       = module.platform.service_database_url_secret_arns
}

output "service_role_sql" {
  description = "SQL creating each service's login role and schema."
  value       = module.platform.service_role_sql
}

output "secret_arns" {
  description = "Secrets whose values an operator puts."
  value       = module.platform.secret_arns
}

output "alert_topic_arn" {
  description = "SNS topic of every alert."
  value       = module.platform.alert_topic_arn
}

output "nat_gateway_public_ips" {
  description = "Egress addresses to allow-list at Stripe and YourPropFirm."
  value       = module.platform.nat_gateway_public_ips
}

output "dr_backup_vault_arn" {
  description = "DR-region vault of the Aurora copies."
  value       = module.platform.dr_backup_vault_arn
}
