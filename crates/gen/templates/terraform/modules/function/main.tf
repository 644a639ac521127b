# {{ header }}
#
# One Lambda function and what it owns: its log group, its execution role (its own logs, plus the
# statements of its caller's policy document) and the function. The authorizer and every consumer's writer
# are instances of this module; their alarms are in modules/alerts.

resource "aws_cloudwatch_log_group" "this" {
{%- if !edge.cmk %}
  #checkov:skip=CKV_AWS_158:Encrypted by CloudWatch Logs' own key; set kms_key in pipeline.toml for a customer-managed one
{%- endif %}
  #checkov:skip=CKV_AWS_338:Retention is log_retention_days in pipeline.toml; these logs hold diagnostics, the data is in the table
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.settings.log_retention_days
  kms_key_id        = var.kms_key_arn
}

# No aws:SourceAccount / aws:SourceArn condition: Lambda documents neither key for assuming an execution
# role, and a condition on a key the service does not set denies the assumption (the function cannot run).
# Only Lambda itself may assume the role, and only a principal allowed iam:PassRole can hand it a function.
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
  name               = var.name
  description        = "Execution role of the ${var.name} function."
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "this" {
  source_policy_documents = [var.policy_json]

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  # The pipeline's customer-managed key: the function's environment, and whatever it reads or writes
  # that the key encrypts (the credentials secret; the dead-letter queue), with the actions its caller names.
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "UsePipelineKey"
      actions   = var.kms_key_actions
      resources = [statement.value]
    }
  }

  # X-Ray accepts no resource narrower than "*" for these two actions.
  dynamic "statement" {
    for_each = var.tracing ? ["xray"] : []
    content {
      sid       = "SendTraces"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "least-privilege"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:A dead-letter queue applies to asynchronous invocations only: API Gateway calls the authorizer synchronously and the writer's event source mapping has its own on-failure destination
  #checkov:skip=CKV_AWS_117:The function calls only AWS APIs and reaches nothing private; a VPC would add NAT or endpoints and isolate nothing
  #checkov:skip=CKV_AWS_272:The package is built reproducibly by `cargo xtask build` and deployed with its hash by this Terraform; there is no signing profile to verify against
{%- if !edge.cmk %}
  #checkov:skip=CKV_AWS_173:The environment holds resource names and settings, no secrets; Lambda encrypts it at rest with its AWS-managed key (set kms_key in pipeline.toml for a customer-managed one)
{%- endif %}
{%- if !edge.tracing %}
  #checkov:skip=CKV_AWS_50:X-Ray tracing is off (xray_tracing in pipeline.toml; it is billed per trace)
{%- endif %}
  function_name                  = var.name
  description                    = var.description
  role                           = aws_iam_role.this.arn
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = [var.settings.architecture]
  memory_size                    = var.settings.memory_mb
  timeout                        = var.settings.timeout_seconds
  reserved_concurrent_executions = var.settings.reserved_concurrency == null ? -1 : var.settings.reserved_concurrency
  filename                       = var.zip_path
  source_code_hash               = filebase64sha256(var.zip_path)
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = var.environment
  }

  tracing_config {
    mode = var.tracing ? "Active" : "PassThrough"
  }

  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
}
