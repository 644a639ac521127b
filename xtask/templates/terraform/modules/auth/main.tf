# {{ header }}
#
# HTTP Basic auth: one Secrets Manager secret holding {"username": …, "password": …}, with a password
# Terraform generates without ever storing it (an ephemeral resource feeding a write-only argument), and
# the authorizer function, the only reader of the secret.

ephemeral "aws_secretsmanager_random_password" "this" {
  password_length = var.auth.password_length
  # Letters and digits only: safe in an Authorization header and in a URL, no quoting needed anywhere.
  exclude_punctuation        = true
  include_space              = false
  require_each_included_type = true
}

resource "aws_secretsmanager_secret" "this" {
  name                    = var.auth.secret_name
  description             = "HTTP Basic credentials of the API, read by ${var.auth.function_name}."
  recovery_window_in_days = var.auth.recovery_window_in_days
}

resource "aws_secretsmanager_secret_version" "this" {
  secret_id = aws_secretsmanager_secret.this.id
  # Write-only: sent to Secrets Manager, never kept in the state or shown in a plan. Bump
  # password_version in pipeline.toml to generate and store a new password.
  secret_string_wo = jsonencode({
    username = var.auth.username
    password = ephemeral.aws_secretsmanager_random_password.this.random_password
  })
  secret_string_wo_version = var.auth.password_version
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.auth.function_name}"
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
  name               = var.auth.function_name
  description        = "Execution role of the ${var.auth.function_name} function."
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  # The secret uses the AWS-managed Secrets Manager key, which needs no kms grant.
  statement {
    sid       = "ReadCredentials"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.this.arn]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "least-privilege"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_lambda_function" "this" {
  function_name                  = var.auth.function_name
  description                    = "Checks HTTP Basic credentials for API Gateway against ${var.auth.secret_name}."
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
    variables = {
      SECRET_ID                     = aws_secretsmanager_secret.this.arn
      CREDENTIALS_CACHE_TTL_SECONDS = tostring(var.auth.cache_ttl_seconds)
      RUST_LOG                      = "info"
    }
  }

  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
}

resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "${var.auth.function_name}-errors"
  alarm_description   = "The ${var.auth.function_name} function is failing (requests get 500s)."
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
