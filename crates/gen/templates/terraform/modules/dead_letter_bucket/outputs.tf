# {{ header }}

output "bucket_name" {
  description = "The dead-letter bucket's name."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "The dead-letter bucket's ARN."
  value       = aws_s3_bucket.this.arn
}
