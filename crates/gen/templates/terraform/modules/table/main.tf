# {{ header }}

resource "aws_dynamodb_table" "this" {
{%- if !edge.cmk %}
  #checkov:skip=CKV_AWS_119:Encrypted with the AWS-managed DynamoDB key; set kms_key in pipeline.toml for a customer-managed one
{%- endif %}
{%- if some_without_pitr %}
  #checkov:skip=CKV_AWS_28:point_in_time_recovery is set per table in pipeline.toml (default true); a table with it off was declared so on purpose
{%- endif %}
  #checkov:skip=CKV2_AWS_16:On-demand tables scale by themselves; a provisioned table has the capacity pipeline.toml gives it (the writer retries throttled writes)
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

  # Encryption at rest: the pipeline's customer-managed key, or the AWS-managed DynamoDB key.
  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
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
