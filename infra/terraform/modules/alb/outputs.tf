output "alb_arn" {
  description = "ARN of the load balancer."
  value       = aws_lb.this.arn
}

output "alb_arn_suffix" {
  description = "ARN suffix of the load balancer, for CloudWatch metrics."
  value       = aws_lb.this.arn_suffix
}

output "alb_dns_name" {
  description = "DNS name of the load balancer."
  value       = aws_lb.this.dns_name
}

output "security_group_id" {
  description = "Security group of the load balancer."
  value       = aws_security_group.this.id
}

output "target_group_arn" {
  description = "Target group the gateway service registers its tasks in."
  value       = aws_lb_target_group.gateway.arn
}

output "target_group_arn_suffix" {
  description = "ARN suffix of the target group, for CloudWatch metrics and request-count scaling."
  value       = aws_lb_target_group.gateway.arn_suffix
}

output "https_listener_arn" {
  description = "HTTPS listener (the ECS service waits for it before registering targets)."
  value       = aws_lb_listener.https.arn
}

output "origin_domain_name" {
  description = "Name CloudFront reaches the ALB by."
  value       = var.origin_domain_name
}

output "origin_verify_header_name" {
  description = "Header name CloudFront must send."
  value       = var.origin_verify_header_name
}

output "origin_verify_header_value" {
  description = "Secret value CloudFront must send in the verify header."
  value       = random_password.origin_verify.result
  sensitive   = true
}
