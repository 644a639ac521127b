# {{ header }}

output "rest_api_id" {
  description = "The REST API's id."
  value       = aws_api_gateway_rest_api.this.id
}

output "stage_name" {
  description = "The stage's name."
  value       = aws_api_gateway_stage.this.stage_name
}

output "invoke_url" {
  description = "The stage's invoke URL."
  value       = aws_api_gateway_stage.this.invoke_url
}

output "execution_arn" {
  description = "The REST API's execution ARN."
  value       = aws_api_gateway_rest_api.this.execution_arn
}
