output "web_acl_arn" {
  description = "ARN of the web ACL, to associate with the ALB or set on the distribution."
  value       = aws_wafv2_web_acl.this.arn
}

output "web_acl_name" {
  description = "Name of the web ACL, for CloudWatch metrics."
  value       = aws_wafv2_web_acl.this.name
}
