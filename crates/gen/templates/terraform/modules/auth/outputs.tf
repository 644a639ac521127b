# {{ header }}

output "secret_arn" {
  description = "ARN of the credentials secret (the value itself is never output)."
  value       = aws_secretsmanager_secret.this.arn
}

output "secret_name" {
  description = "Name of the credentials secret."
  value       = aws_secretsmanager_secret.this.name
}

output "function_name" {
  description = "The authorizer function's name."
  value       = module.function.function_name
}

output "invoke_arn" {
  description = "The authorizer function's invoke ARN, for API Gateway."
  value       = module.function.invoke_arn
}
