output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "service_names" {
  description = "ECS service name of each service."
  value       = { for name, service in aws_ecs_service.this : name => service.name }
}

output "task_definition_families" {
  description = "Task definition family of each service (CD registers new revisions in it)."
  value       = { for name, definition in aws_ecs_task_definition.service : name => definition.family }
}

output "migration_task_definition_families" {
  description = "Task definition family of each service's one-off migration task."
  value       = { for name, definition in aws_ecs_task_definition.migration : name => definition.family }
}

output "task_role_arns" {
  description = "Task role of each service."
  value       = { for name, role in aws_iam_role.task : name => role.arn }
}

output "execution_role_arns" {
  description = "Execution role of each service (CD passes it when registering revisions)."
  value       = { for name, role in aws_iam_role.execution : name => role.arn }
}

output "log_group_names" {
  description = "Log group of each service."
  value       = { for name, group in aws_cloudwatch_log_group.service : name => group.name }
}

output "service_connect_namespace_arn" {
  description = "Service Connect namespace of the mesh."
  value       = aws_service_discovery_http_namespace.this.arn
}
