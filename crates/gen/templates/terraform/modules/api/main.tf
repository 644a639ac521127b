# {{ header }}
#
# The REST API from its OpenAPI document (openapi.json.tftpl): one path per declared stream, the Kinesis
# PutRecord integration, the Basic authorizer, request validation and the error contract's gateway
# responses. Redeployed whenever the document changes.

data "aws_partition" "current" {}

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

locals {
  body = templatefile("${path.module}/openapi.json.tftpl", {
    partition            = data.aws_partition.current.partition
    region               = data.aws_region.current.name
    integration_role_arn = aws_iam_role.integration.arn
    authorizer_uri       = var.authorizer == null ? "" : var.authorizer.invoke_arn
  })
}

# No aws:SourceAccount / aws:SourceArn condition: API Gateway does not set them when it assumes an
# integration's credentials role (a condition on them denies every request with a 500), and documents
# neither for its CloudWatch role. Only API Gateway may assume these roles; only a principal allowed
# iam:PassRole can attach them to an API.
data "aws_iam_policy_document" "apigateway_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

# The role API Gateway uses to call Kinesis: PutRecord on exactly the streams some route writes to.
resource "aws_iam_role" "integration" {
  name               = "${var.api.name}-api-kinesis"
  description        = "API Gateway's role for PutRecord into the ${var.api.name} streams."
  assume_role_policy = data.aws_iam_policy_document.apigateway_assume.json
}

data "aws_iam_policy_document" "integration" {
  statement {
    sid       = "PutRecordOnDeclaredStreams"
    actions   = ["kinesis:PutRecord"]
    resources = var.stream_arns
  }

  dynamic "statement" {
    for_each = length(var.stream_kms_key_arns) == 0 ? [] : [var.stream_kms_key_arns]
    content {
      sid       = "EncryptWithStreamKeys"
      actions   = ["kms:GenerateDataKey"]
      resources = statement.value
    }
  }
}

resource "aws_iam_role_policy" "integration" {
  name   = "put-record"
  role   = aws_iam_role.integration.id
  policy = data.aws_iam_policy_document.integration.json
}

resource "aws_api_gateway_rest_api" "this" {
  name        = var.api.name
  description = "HTTP → Kinesis ingestion API of the ${var.api.name} pipeline."
  body        = local.body

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id

  triggers = {
    redeployment = sha1(local.body)
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "access" {
{%- if !edge.cmk %}
  #checkov:skip=CKV_AWS_158:Encrypted by CloudWatch Logs' own key; set kms_key in pipeline.toml for a customer-managed one
{%- endif %}
  #checkov:skip=CKV_AWS_338:Retention is access_log_retention_days in pipeline.toml; access logs hold request metadata, the data is in the table
  name              = "/aws/apigateway/${var.api.name}/${var.api.stage}/access"
  retention_in_days = var.api.access_log_retention_days
  kms_key_id        = var.kms_key_arn
}

# The stage's execution log group (its ERROR-level logs, method settings below). API Gateway creates it on the
# first error if it does not exist, never expiring and under CloudWatch Logs' own key; created here first, it
# has the access logs' retention and the pipeline's key, and goes with the stack.
resource "aws_cloudwatch_log_group" "execution" {
{%- if !edge.cmk %}
  #checkov:skip=CKV_AWS_158:Encrypted by CloudWatch Logs' own key; set kms_key in pipeline.toml for a customer-managed one
{%- endif %}
  #checkov:skip=CKV_AWS_338:Retention is access_log_retention_days in pipeline.toml; execution logs hold errors only (logging_level ERROR, no data trace)
  name              = "API-Gateway-Execution-Logs_${aws_api_gateway_rest_api.this.id}/${var.api.stage}"
  retention_in_days = var.api.access_log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_120:Every request is a distinct write to Kinesis; a cached response would acknowledge a record that was never written
  #checkov:skip=CKV2_AWS_51:Clients authenticate with HTTP Basic checked by the authorizer (or the route is public by design); mutual TLS needs a custom domain this pipeline does not manage
  #checkov:skip=CKV2_AWS_77:No Java on the path (the body goes to Kinesis unparsed, the functions are Rust); a Log4j rule group could only block legitimate event data
{%- if !edge.waf %}
  #checkov:skip=CKV2_AWS_29:No [waf] in pipeline.toml; the stage's throttling (throttle_rate_limit, throttle_burst_limit) bounds the load
{%- endif %}
{%- if !edge.tracing %}
  #checkov:skip=CKV_AWS_73:X-Ray tracing is off (xray_tracing in pipeline.toml; it is billed per trace)
{%- endif %}
  rest_api_id          = aws_api_gateway_rest_api.this.id
  deployment_id        = aws_api_gateway_deployment.this.id
  stage_name           = var.api.stage
  xray_tracing_enabled = var.api.xray_tracing

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      extendedRequestId  = "$context.extendedRequestId"
      ip                 = "$context.identity.sourceIp"
      requestTime        = "$context.requestTime"
      requestTimeEpoch   = "$context.requestTimeEpoch"
      httpMethod         = "$context.httpMethod"
      resourcePath       = "$context.resourcePath"
      status             = "$context.status"
      protocol           = "$context.protocol"
      responseLength     = "$context.responseLength"
      responseLatency    = "$context.responseLatency"
      errorType          = "$context.error.responseType"
      errorMessage       = "$context.error.message"
      integrationStatus  = "$context.integration.status"
      integrationError   = "$context.integration.error"
      integrationLatency = "$context.integration.latency"
      authorizerError    = "$context.authorizer.error"
      authorizerStatus   = "$context.authorizer.status"
      authorizerLatency  = "$context.authorizer.latency"
      principalId        = "$context.authorizer.principalId"
    })
  }

  depends_on = [aws_api_gateway_account.this]
}

resource "aws_wafv2_web_acl_association" "this" {
  count = var.web_acl == null ? 0 : 1

  resource_arn = aws_api_gateway_stage.this.arn
  web_acl_arn  = var.web_acl.arn
}

resource "aws_api_gateway_method_settings" "all" {
  #checkov:skip=CKV_AWS_225:Every request is a distinct write to Kinesis; a cached response would acknowledge a record that was never written
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  # Logging starts with these settings: the log group must exist first (else API Gateway creates its own).
  depends_on = [aws_cloudwatch_log_group.execution]

  settings {
    metrics_enabled = true
    logging_level   = "ERROR"
    # Never log full requests: they carry the Authorization header.
    data_trace_enabled     = false
    throttling_rate_limit  = var.api.throttle_rate_limit
    throttling_burst_limit = var.api.throttle_burst_limit
  }
}

# API Gateway invokes the authorizer of this API only.
resource "aws_lambda_permission" "authorizer" {
  count = var.authorizer == null ? 0 : 1

  statement_id  = "AllowApiGatewayAuthorizer"
  action        = "lambda:InvokeFunction"
  function_name = var.authorizer.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/authorizers/*"
}

# The region-wide role API Gateway writes its CloudWatch logs with (one per account and region).
resource "aws_iam_role" "cloudwatch" {
  count = var.api.manage_account ? 1 : 0

  name               = "${var.api.name}-apigateway-cloudwatch"
  description        = "Lets API Gateway write execution and access logs to CloudWatch Logs."
  assume_role_policy = data.aws_iam_policy_document.apigateway_assume.json
}

# API Gateway names the execution log groups itself (API-Gateway-Execution-Logs_{api id}/{stage}), for every
# API of the region: the narrowest resource is this account's log groups in this region. Writing only:
# AWS's managed policy for this role also grants reading (GetLogEvents, FilterLogEvents), which API Gateway
# never does.
data "aws_iam_policy_document" "cloudwatch" {
  statement {
    sid = "WriteApiGatewayLogs"
    actions = [
      "logs:CreateLogGroup",
      "logs:CreateLogStream",
      "logs:DescribeLogGroups",
      "logs:DescribeLogStreams",
      "logs:PutLogEvents",
    ]
    resources = ["arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:*"]
  }
}

resource "aws_iam_role_policy" "cloudwatch" {
  count = var.api.manage_account ? 1 : 0

  name   = "push-to-cloudwatch-logs"
  role   = aws_iam_role.cloudwatch[0].id
  policy = data.aws_iam_policy_document.cloudwatch.json
}

# One per account and region: applying it replaces whatever role another stack set (pipeline.toml's
# manage_api_gateway_account = false leaves it alone). On destroy it is reset (unless the root's
# reset_api_gateway_account_on_destroy is false), not left naming a deleted role.
resource "aws_api_gateway_account" "this" {
  count = var.api.manage_account ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.cloudwatch[0].arn
  reset_on_delete     = var.api.reset_account_on_destroy
  depends_on          = [aws_iam_role_policy.cloudwatch]
}
