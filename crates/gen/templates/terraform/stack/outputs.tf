# {{ header }}

data "aws_region" "current" {}

output "api_url" {
  description = {{ api_url_description|hcl }}
  value       = module.api.invoke_url
}

output "api_id" {
  description = "The REST API's id."
  value       = module.api.rest_api_id
}

output "api_stage_name" {
  description = "The API Gateway stage name."
  value       = module.api.stage_name
}

output "region" {
  description = "The region the pipeline is deployed in."
  value       = data.aws_region.current.name
}
{%- if auth %}

output "credentials_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the HTTP Basic credentials ({\"username\":…,\"password\":…})."
  value       = module.auth.secret_arn
}

output "credentials_secret_name" {
  description = "Name of the Secrets Manager secret holding the HTTP Basic credentials."
  value       = module.auth.secret_name
}

output "authorizer_function_name" {
  description = "The authorizer Lambda function's name."
  value       = module.auth.function_name
}
{%- endif %}

output "writer_function_names" {
  description = "The writer Lambda function of each consumer, by consumer name."
  value       = { for key, consumer in module.consumer : key => consumer.function_name }
}

output "table_names" {
  description = "DynamoDB table names, by logical table name."
  value       = { for key, table in module.table : key => table.table_name }
}

output "stream_names" {
  description = "Kinesis stream names, by logical stream name."
  value       = { for key, stream in module.stream : key => stream.stream_name }
}

output "stream_arns" {
  description = "Kinesis stream ARNs, by logical stream name."
  value       = { for key, stream in module.stream : key => stream.stream_arn }
}

output "dead_letter_queue_urls" {
  description = "SQS dead-letter queue URLs, by logical queue name."
  value       = { for key, queue in module.queue : key => queue.queue_url }
}

output "kms_key_arn" {
  description = "The customer-managed KMS key encrypting the pipeline's data and logs, or null for the AWS-managed keys."
  value       = local.kms_key_arn
}
{%- if waf %}

output "web_acl_arn" {
  description = "The WAF web ACL in front of the stage."
  value       = module.waf.web_acl_arn
}
{%- endif %}

output "dead_letter_bucket_name" {
  description = "The bucket holding the data of dead letters too large for their queue (the messages say where)."
  value       = module.dead_letter_bucket.bucket_name
}

output "alarm_topic_arn" {
  description = "The SNS topic every alarm publishes its alarm and OK to (subscribe more endpoints here)."
  value       = module.alerts.topic_arn
}

output "dashboard_name" {
  description = "The pipeline's CloudWatch dashboard."
  value       = module.alerts.dashboard_name
}
