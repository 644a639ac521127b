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
  name              = "/aws/apigateway/${var.api.name}/${var.api.stage}/access"
  retention_in_days = var.api.access_log_retention_days
}

resource "aws_api_gateway_stage" "this" {
  rest_api_id   = aws_api_gateway_rest_api.this.id
  deployment_id = aws_api_gateway_deployment.this.id
  stage_name    = var.api.stage

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
    })
  }

  depends_on = [aws_api_gateway_account.this]
}

resource "aws_api_gateway_method_settings" "all" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

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
# API of the region: the narrowest resource is this account's log groups in this region.
data "aws_iam_policy_document" "cloudwatch" {
  statement {
    sid = "WriteApiGatewayLogs"
    actions = [
      "logs:CreateLogGroup",
      "logs:CreateLogStream",
      "logs:DescribeLogGroups",
      "logs:DescribeLogStreams",
      "logs:PutLogEvents",
      "logs:GetLogEvents",
      "logs:FilterLogEvents",
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

resource "aws_api_gateway_account" "this" {
  count = var.api.manage_account ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.cloudwatch[0].arn
  depends_on          = [aws_iam_role_policy.cloudwatch]
}
