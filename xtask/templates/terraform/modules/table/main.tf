# {{ header }}

resource "aws_dynamodb_table" "this" {
  name                        = var.table.name
  billing_mode                = var.table.billing_mode
  read_capacity               = var.table.read_capacity
  write_capacity              = var.table.write_capacity
  hash_key                    = var.table.partition_key.name
  range_key                   = try(var.table.sort_key.name, null)
  deletion_protection_enabled = var.table.deletion_protection

  dynamic "attribute" {
    for_each = var.table.sort_key == null ? [var.table.partition_key] : [var.table.partition_key, var.table.sort_key]
    content {
      name = attribute.value.name
      type = attribute.value.type
    }
  }

  # Encryption at rest with the AWS-managed DynamoDB key.
  server_side_encryption {
    enabled = true
  }

  point_in_time_recovery {
    enabled = var.table.point_in_time_recovery
  }

  dynamic "ttl" {
    for_each = var.table.ttl_attribute == null ? [] : [var.table.ttl_attribute]
    content {
      attribute_name = ttl.value
      enabled        = true
    }
  }
}
