# {{ header }}

variable "queue" {
  description = "The dead-letter queue: physical name, message retention in seconds, and largest message in bytes."
  type = object({
    name                      = string
    message_retention_seconds = number
    max_message_size          = number
  })
}

variable "kms_key_arn" {
  description = "The pipeline's customer-managed KMS key, or null for SQS-managed encryption."
  type        = string
}
