# {{ header }}

resource "aws_sqs_queue" "this" {
  name                      = var.queue.name
  message_retention_seconds = var.queue.message_retention_seconds
  # The writer's limit (sluice_contract's MAX_DEAD_LETTER_MESSAGE_BYTES): larger dead letters go to the bucket.
  max_message_size = var.queue.max_message_size
  # Encryption at rest: the pipeline's customer-managed key, or SQS-owned keys.
  sqs_managed_sse_enabled = var.kms_key_arn == null ? true : null
  kms_master_key_id       = var.kms_key_arn
}

# The queue policy is in the root module: it names the writers' roles, which need the queue first.

# Its alarms (dead letters waiting, the oldest one's age) are in modules/alerts.
