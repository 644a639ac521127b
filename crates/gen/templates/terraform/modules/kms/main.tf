# {{ header }}
#
# The pipeline's customer-managed key (`kms_key = "create"` in pipeline.toml): it encrypts the streams,
# queues, tables, credentials secret and log groups. The key policy lets the account's IAM policies decide
# who uses it (each function's role gets kms:Decrypt and kms:GenerateDataKey on it, the API's integration
# role kms:GenerateDataKey) and lets CloudWatch Logs encrypt this account's log groups in this region.

data "aws_partition" "current" {}

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "this" {
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" is this key alone; the account root statement is what lets IAM policies grant the key at all (AWS's default key policy)
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" is this key alone; the account root statement is what lets IAM policies grant the key at all (AWS's default key policy)
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" is this key alone
  statement {
    sid       = "AccountGrantsThroughIam"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid = "CloudWatchLogsEncryptsThisAccountsLogGroups"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${data.aws_region.current.name}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:*"]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "Encrypts the ${var.name} pipeline's streams, queues, tables, credentials secret and logs."
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.this.json
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}
