output "alert_topic_arn" {
  description = "SNS topic every alarm, budget and anomaly alert goes to."
  value       = aws_sns_topic.alerts.arn
}

output "gateway_deployment_alarm_names" {
  description = "Alarms that roll back a gateway deployment when they fire during it."
  value       = [aws_cloudwatch_metric_alarm.http_5xx_rate.alarm_name, aws_cloudwatch_metric_alarm.latency_p99.alarm_name]
}

output "rules_deployment_alarm_names" {
  description = "Alarms that roll back a rules deployment when they fire during it."
  value       = [aws_cloudwatch_metric_alarm.rule_engine_lag.alarm_name]
}

output "outbox_alarm_names" {
  description = "Outbox backlog alarm of each service."
  value       = { for service, alarm in aws_cloudwatch_metric_alarm.outbox_backlog : service => alarm.alarm_name }
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "cloudtrail_arn" {
  description = "ARN of the multi-region trail."
  value       = aws_cloudtrail.this.arn
}
