# {{ header }}
#
# The dead-letter bucket: the data of dead letters too large for their queue (SQS takes 256 KiB; a record
# may be 1 MiB). The writer puts the record's data here under <stream>/<shard id>/<sequence number> and
# sends the queue a message pointing at it (docs/CONTRACTS.md). Private, encrypted, TLS only, written by
# the writers alone, and emptied on the queues' schedule.
#
# Not versioned: an object is written once per record, and a retry writes the same bytes under the same
# key; nothing but the lifecycle rule deletes objects. Versions would only keep copies of identical data.

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_21:Not versioned: each key is written once per record (a retry writes identical bytes); see above.
  #checkov:skip=CKV_AWS_18:Access logs of a bucket only the writers put into would log their own puts; CloudTrail data events cover audits.
  #checkov:skip=CKV_AWS_144:Dead letters are kept for the queue's retention (at most 14 days) in the pipeline's region; no replica.
  #checkov:skip=CKV2_AWS_62:The queue message pointing at each object is the notification.
  bucket_prefix = var.bucket.name_prefix
  # Dead letters are data: a destroy fails while the bucket holds some, rather than deleting them.
  force_destroy = false
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# SSE-KMS with the pipeline's customer-managed key when it has one (the writers' roles may generate data
# keys with it), else the AWS-managed key (aws/s3), whose key policy lets the account's principals use it
# through S3. The bucket key keeps KMS requests (and their cost) down.
resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

# Objects live as long as the messages pointing at them (the longest retention of the pipeline's
# dead-letter queues, in days, rounded up).
resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "expire-with-the-dead-letter-queues"
    status = "Enabled"

    filter {}

    expiration {
      days = var.bucket.expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  # Only the writers' execution roles put objects (their own policies allow it); nobody else may, whatever
  # their IAM policies say.
  statement {
    sid       = "OnlyWritersPutObjects"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.this.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    dynamic "condition" {
      for_each = length(var.writer_role_arns) == 0 ? [] : [var.writer_role_arns]
      content {
        test     = "ArnNotEquals"
        variable = "aws:PrincipalArn"
        values   = condition.value
      }
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.this.json

  # S3 refuses a policy while the public access block is being set.
  depends_on = [aws_s3_bucket_public_access_block.this]
}
