output "state_bucket" {
  description = "bucket for backend.hcl."
  value       = aws_s3_bucket.state.id
}

output "lock_table" {
  description = "dynamodb_table for backend.hcl."
  value       = aws_dynamodb_table.lock.name
}

output "state_kms_key_arn" {
  description = "kms_key_id for backend.hcl."
  value       = aws_kms_key.state.arn
}

output "github_role_arns" {
  description = "Roles to set as the AWS_PLAN_ROLE_ARN, AWS_DEPLOY_ROLE_ARN and AWS_TERRAFORM_ROLE_ARN variables of the GitHub environments."
  value       = { for kind, role in aws_iam_role.github : kind => role.arn }
}
