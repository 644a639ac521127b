# {{ header }}

variable "queue" {
  description = "The dead-letter queue: physical name and message retention in seconds."
  type = object({
    name                      = string
    message_retention_seconds = number
  })
}

variable "kms_key_arn" {
  description = "The pipeline's customer-managed KMS key, or null for SQS-managed encryption."
  type        = string
}
