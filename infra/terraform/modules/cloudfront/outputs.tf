output "distribution_id" {
  description = "Id of the distribution (for invalidations and metrics)."
  value       = aws_cloudfront_distribution.this.id
}

output "distribution_domain_name" {
  description = "CloudFront domain name of the distribution."
  value       = aws_cloudfront_distribution.this.domain_name
}

output "api_url" {
  description = "Public base URL of the API."
  value       = "https://${var.api_domain_name}"
}
