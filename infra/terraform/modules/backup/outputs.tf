output "primary_vault_name" {
  description = "Backup vault in the primary region."
  value       = aws_backup_vault.primary.name
}

output "dr_vault_arn" {
  description = "Backup vault in the DR region holding the daily copies."
  value       = aws_backup_vault.dr.arn
}

output "dr_kms_key_arn" {
  description = "Key of the DR vault; a restore in the DR region re-encrypts with it."
  value       = aws_kms_key.dr.arn
}

output "backup_plan_id" {
  description = "Id of the backup plan."
  value       = aws_backup_plan.this.id
}
