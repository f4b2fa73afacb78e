output "cluster_identifier" {
  description = "Identifier of the Aurora cluster."
  value       = aws_rds_cluster.this.id
}

output "cluster_arn" {
  description = "ARN of the Aurora cluster (AWS Backup selection, Data API)."
  value       = aws_rds_cluster.this.arn
}

output "writer_endpoint" {
  description = "Writer endpoint: commands and outbox."
  value       = aws_rds_cluster.this.endpoint
}

output "reader_endpoint" {
  description = "Reader endpoint: dashboards and reports."
  value       = aws_rds_cluster.this.reader_endpoint
}

output "database_name" {
  description = "Name of the one database holding a schema per service."
  value       = aws_rds_cluster.this.database_name
}

output "master_user_secret_arn" {
  description = "Secret holding the master credentials, managed and rotated by RDS."
  value       = aws_rds_cluster.this.master_user_secret[0].secret_arn
}

output "service_database_url_secret_arns" {
  description = "Secret holding each service's DATABASE_URL, by service."
  value       = { for service, secret in aws_secretsmanager_secret.service_database_url : service => secret.arn }
}

output "instance_identifiers" {
  description = "Identifiers of the instances Terraform manages (writer first)."
  value       = [for key in sort(keys(aws_rds_cluster_instance.this)) : aws_rds_cluster_instance.this[key].identifier]
}

output "service_role_sql" {
  description = "SQL creating each service's login role and schema, by service (no passwords)."
  value = {
    for service in var.service_schemas :
    service => templatefile("${path.module}/sql/service_role.sql.tftpl", { service = service, database = var.database_name })
  }
}
