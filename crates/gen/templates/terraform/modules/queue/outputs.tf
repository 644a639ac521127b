# {{ header }}

output "queue_name" {
  description = "The queue's name."
  value       = aws_sqs_queue.this.name
}

output "queue_arn" {
  description = "The queue's ARN."
  value       = aws_sqs_queue.this.arn
}

output "queue_url" {
  description = "The queue's URL."
  value       = aws_sqs_queue.this.url
}
