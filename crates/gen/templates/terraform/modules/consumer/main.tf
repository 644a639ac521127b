# {{ header }}
#
# One consumer: the writer function reading one stream into one table (an instance of modules/function
# with the permissions it needs and no others), and its event source mapping (finite retries, bisect on
# error, partial batch responses, on-failure destination).

data "aws_iam_policy_document" "this" {
  # What the event source mapping reads the stream with (shared-throughput polling; SubscribeToShard would
  # be for an enhanced fan-out consumer, which this mapping is not).
  statement {
    sid = "ReadStream"
    actions = [
      "kinesis:DescribeStream",
      "kinesis:DescribeStreamSummary",
      "kinesis:GetRecords",
      "kinesis:GetShardIterator",
      "kinesis:ListShards",
    ]
    resources = [var.stream.arn]
  }

  # The function puts each item with a conditional PutItem (the ordering rule); it makes no other call.
  # The stock writer writes its one table; your function the tables its consumer lists.
  statement {
    sid       = "WriteTable"
    actions   = ["dynamodb:PutItem"]
    resources = var.write_tables == null ? [var.table.arn] : [for t in var.write_tables : t.arn]
  }

  # The writer's dead letters, and the event source mapping's on-failure messages.
  statement {
    sid       = "SendDeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [var.dead_letter_queue.arn]
  }

  # The data of dead letters too large for the queue, under this stream's prefix only.
  statement {
    sid       = "StoreDeadLetterData"
    actions   = ["s3:PutObject"]
    resources = ["${var.dead_letter_bucket.arn}/${var.stream.name}/*"]
  }

  dynamic "statement" {
    for_each = var.stream.kms_key_arn == null ? [] : [var.stream.kms_key_arn]
    content {
      sid       = "DecryptStream"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

module "function" {
  source = "../function"

  name        = var.consumer.function_name
  description = coalesce(var.description, "Writes the records of a Kinesis stream into ${var.table.name}.")
  settings    = var.function
  zip_path    = var.zip_path
  kms_key_arn = var.kms_key_arn
  # Reads its environment; sends to the dead-letter queue (SQS needs both actions from a sender).
  kms_key_actions = ["kms:Decrypt", "kms:GenerateDataKey"]
  tracing         = var.tracing
  environment = merge(var.environment, {
{%- for e in environment %}
    {{ e.key }}{{ e.pad }} = {{ e.value }}
{%- endfor %}
  })
  policy_json = data.aws_iam_policy_document.this.json
}

resource "aws_lambda_event_source_mapping" "this" {
  event_source_arn                   = var.stream.arn
  function_name                      = module.function.function_arn
  starting_position                  = var.consumer.starting_position
  batch_size                         = var.consumer.batch_size
  maximum_batching_window_in_seconds = var.consumer.batching_window_seconds
  maximum_retry_attempts             = var.consumer.retry_attempts
  maximum_record_age_in_seconds      = var.consumer.maximum_record_age_seconds
  bisect_batch_on_function_error     = var.consumer.bisect_on_error
  parallelization_factor             = var.consumer.parallelization_factor
  function_response_types            = ["ReportBatchItemFailures"]

  # Only records one pattern matches are delivered; the others are skipped (never retried, never sent to
  # the on-failure destination) and the shard moves past them. Patterns come from pipeline.toml's
  # `filters`, on the record's data (the envelope) and partition key.
  dynamic "filter_criteria" {
    for_each = length(var.consumer.filter_patterns) == 0 ? [] : [var.consumer.filter_patterns]
    content {
      dynamic "filter" {
        for_each = filter_criteria.value
        content {
          pattern = filter.value
        }
      }
    }
  }

  # Batches the function gave up on (retries or record age exhausted) go to the dead-letter queue.
  # A function-level dead_letter_config would do nothing here: it only applies to asynchronous invocations.
  destination_config {
    on_failure {
      destination_arn = var.dead_letter_queue.arn
    }
  }

  # The execution role must allow reading the stream before the mapping is created.
  depends_on = [module.function]
}
