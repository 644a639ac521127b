# {{ header }}

output "function_name" {
  description = "The writer function's name."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "The writer function's ARN."
  value       = aws_lambda_function.this.arn
}

output "role_arn" {
  description = "The writer function's execution role ARN."
  value       = aws_iam_role.this.arn
}

output "event_source_mapping_uuid" {
  description = "The event source mapping's UUID."
  value       = aws_lambda_event_source_mapping.this.uuid
}
