# {{ header }}

output "function_name" {
  description = "The function's name."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "The function's ARN."
  value       = aws_lambda_function.this.arn
}

output "invoke_arn" {
  description = "The function's invoke ARN, for API Gateway."
  value       = aws_lambda_function.this.invoke_arn
}

output "role_arn" {
  description = "The function's execution role ARN."
  value       = aws_iam_role.this.arn
}

output "log_group_name" {
  description = "The function's log group."
  value       = aws_cloudwatch_log_group.this.name
}
