# {{ header }}

output "topic_arn" {
  description = "The SNS topic every alarm publishes to."
  value       = local.topic_arn
}

output "dashboard_name" {
  description = "The pipeline's CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "alarm_names" {
  description = "Every alarm of the pipeline."
  value       = concat(keys(aws_cloudwatch_metric_alarm.this), [aws_cloudwatch_metric_alarm.client_error_rate.alarm_name])
}
