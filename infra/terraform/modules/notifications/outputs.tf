output "ses_configuration_set_name" {
  description = "Configuration set every email must be sent with (TLS required, feedback to SNS)."
  value       = aws_sesv2_configuration_set.this.configuration_set_name
}

output "ses_identity_arn" {
  description = "ARN of the verified sending domain, for the services' ses:SendEmail permission."
  value       = aws_sesv2_email_identity.this.arn
}

output "email_feedback_topic_arn" {
  description = "SNS topic receiving SES bounces and complaints."
  value       = aws_sns_topic.email_feedback.arn
}
