# {{ header }}

output "stream_name" {
  description = "The stream's name."
  value       = aws_kinesis_stream.this.name
}

output "stream_arn" {
  description = "The stream's ARN."
  value       = aws_kinesis_stream.this.arn
}

output "kms_key_arn" {
  description = "The customer KMS key encrypting the stream, or null for the AWS-managed key (which needs no grant)."
  value       = var.stream.kms_key_arn
}
