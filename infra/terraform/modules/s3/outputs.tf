output "data_bucket_names" {
  description = "Name of each data bucket, keyed kyc-documents, tax-forms, reports, audit-exports."
  value       = { for key, bucket in module.data_bucket : key => bucket.bucket_name }
}

output "data_bucket_arns" {
  description = "ARN of each data bucket, keyed like data_bucket_names."
  value       = { for key, bucket in module.data_bucket : key => bucket.bucket_arn }
}

output "access_logs_bucket_name" {
  description = "Bucket receiving S3 server access logs (prefix s3/) and ALB access logs (prefix alb/)."
  value       = aws_s3_bucket.access_logs.id
}

output "audit_trail_bucket_name" {
  description = "Bucket receiving CloudTrail (prefix cloudtrail/) and AWS Config (prefix config/)."
  value       = module.audit_trail_bucket.bucket_name
}

output "audit_trail_bucket_arn" {
  description = "ARN of the CloudTrail and Config bucket."
  value       = module.audit_trail_bucket.bucket_arn
}
