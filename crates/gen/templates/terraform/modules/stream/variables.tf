# {{ header }}

variable "stream" {
  description = "The stream: physical name, capacity mode (PROVISIONED with shard_count, or ON_DEMAND), retention in hours, and the customer KMS key ARN (null for the AWS-managed key)."
  type = object({
    name            = string
    mode            = string
    shard_count     = number
    retention_hours = number
    kms_key_arn     = string
  })

  validation {
    condition     = contains(["PROVISIONED", "ON_DEMAND"], var.stream.mode)
    error_message = "The stream mode must be PROVISIONED or ON_DEMAND."
  }
}
