# {{ header }}

variable "table" {
  description = "The table: physical name, billing mode (PAY_PER_REQUEST, or PROVISIONED with capacities), partition key and optional sort key (name and type S or N), point-in-time recovery, TTL attribute (null for none) and deletion protection."
  type = object({
    name           = string
    billing_mode   = string
    read_capacity  = number
    write_capacity = number
    partition_key = object({
      name = string
      type = string
    })
    sort_key = object({
      name = string
      type = string
    })
    point_in_time_recovery = bool
    ttl_attribute          = string
    deletion_protection    = bool
  })

  validation {
    condition     = contains(["PAY_PER_REQUEST", "PROVISIONED"], var.table.billing_mode)
    error_message = "The billing mode must be PAY_PER_REQUEST or PROVISIONED."
  }
}

variable "kms_key_arn" {
  description = "The pipeline's customer-managed KMS key, or null for the AWS-managed DynamoDB key."
  type        = string
}
