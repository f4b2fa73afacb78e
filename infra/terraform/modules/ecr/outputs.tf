output "repository_url" {
  description = "URL to push to and pull from (append @sha256:<digest>)."
  value       = aws_ecr_repository.this.repository_url
}

output "repository_arn" {
  description = "ARN of the repository, for IAM policies of the pipeline and the task execution roles."
  value       = aws_ecr_repository.this.arn
}
