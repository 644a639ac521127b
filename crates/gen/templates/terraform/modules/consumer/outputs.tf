# {{ header }}

output "function_name" {
  description = "The writer function's name."
  value       = module.function.function_name
}

output "function_arn" {
  description = "The writer function's ARN."
  value       = module.function.function_arn
}

output "role_arn" {
  description = "The writer function's execution role ARN."
  value       = module.function.role_arn
}

output "event_source_mapping_uuid" {
  description = "The event source mapping's UUID."
  value       = aws_lambda_event_source_mapping.this.uuid
}
