# {{ header }}

resource "aws_kinesis_stream" "this" {
  name             = var.stream.name
  shard_count      = var.stream.mode == "PROVISIONED" ? var.stream.shard_count : null
  retention_period = var.stream.retention_hours

  # Encryption at rest: the stream's customer key, or the AWS-managed key for Kinesis.
  encryption_type = "KMS"
  kms_key_id      = coalesce(var.stream.kms_key_arn, "alias/aws/kinesis")

  stream_mode_details {
    stream_mode = var.stream.mode
  }
}
