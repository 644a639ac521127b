# {{ header }}
#
# One consumer: the writer function reading one stream into one table, its own role and log group, the
# event source mapping (finite retries, bisect on error, partial batch responses, on-failure destination)
# and an alarm on its errors.

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.consumer.function_name}"
  retention_in_days = var.function.log_retention_days
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = var.consumer.function_name
  description        = "Execution role of the ${var.consumer.function_name} writer function."
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  statement {
    sid = "ReadStream"
    actions = [
      "kinesis:DescribeStream",
      "kinesis:DescribeStreamSummary",
      "kinesis:GetRecords",
      "kinesis:GetShardIterator",
      "kinesis:ListShards",
      "kinesis:SubscribeToShard",
    ]
    resources = [var.stream.arn]
  }

  statement {
    sid       = "WriteTable"
    actions   = ["dynamodb:BatchWriteItem", "dynamodb:PutItem"]
    resources = [var.table.arn]
  }

  statement {
    sid       = "SendDeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [var.dead_letter_queue.arn]
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

resource "aws_iam_role_policy" "this" {
  name   = "least-privilege"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_lambda_function" "this" {
  function_name                  = var.consumer.function_name
  description                    = "Writes the records of a Kinesis stream into ${var.table.name}."
  role                           = aws_iam_role.this.arn
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = [var.function.architecture]
  memory_size                    = var.function.memory_mb
  timeout                        = var.function.timeout_seconds
  reserved_concurrent_executions = var.function.reserved_concurrency == null ? -1 : var.function.reserved_concurrency
  filename                       = var.zip_path
  source_code_hash               = filebase64sha256(var.zip_path)

  environment {
    variables = merge(var.environment, {
      TABLE_NAME            = var.table.name
      DEAD_LETTER_QUEUE_URL = var.dead_letter_queue.url
    })
  }

  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
}

resource "aws_lambda_event_source_mapping" "this" {
  event_source_arn                   = var.stream.arn
  function_name                      = aws_lambda_function.this.arn
  starting_position                  = var.consumer.starting_position
  batch_size                         = var.consumer.batch_size
  maximum_batching_window_in_seconds = var.consumer.batching_window_seconds
  maximum_retry_attempts             = var.consumer.retry_attempts
  maximum_record_age_in_seconds      = var.consumer.maximum_record_age_seconds
  bisect_batch_on_function_error     = var.consumer.bisect_on_error
  parallelization_factor             = var.consumer.parallelization_factor
  function_response_types            = ["ReportBatchItemFailures"]

  # Batches the function gave up on (retries or record age exhausted) go to the dead-letter queue.
  # A function-level dead_letter_config would do nothing here: it only applies to asynchronous invocations.
  destination_config {
    on_failure {
      destination_arn = var.dead_letter_queue.arn
    }
  }

  depends_on = [aws_iam_role_policy.this]
}

resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "${var.consumer.function_name}-errors"
  alarm_description   = "The ${var.consumer.function_name} writer function is failing."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
}
