# {{ header }}
#
# Who hears about the pipeline: one SNS topic (created here, or the one pipeline.toml names), the e-mail
# subscriptions, every alarm (each publishing both its alarm and its return to OK) and the dashboard.
#
# The topic is encrypted with a key of its own. Not the AWS-managed alias/aws/sns: its policy cannot be
# changed and does not let CloudWatch use it, so alarms could not publish. Not the pipeline's key either:
# CloudWatch needs kms:Decrypt and kms:GenerateDataKey on the topic's key, and that grant should cover alarm
# notifications, not the streams, tables and queues that key encrypts.

data "aws_partition" "current" {}

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

locals {
  create_topic = var.sns_topic_arn == null
  topic_arn    = local.create_topic ? aws_sns_topic.this[0].arn : var.sns_topic_arn
  account_id   = data.aws_caller_identity.current.account_id
  partition    = data.aws_partition.current.partition
  region       = data.aws_region.current.name
}

data "aws_iam_policy_document" "key" {
  count = local.create_topic ? 1 : 0

  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" is this key alone; the account root statement is what lets IAM policies grant the key at all (AWS's default key policy)
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" is this key alone; the account root statement is what lets IAM policies grant the key at all (AWS's default key policy)
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" is this key alone
  statement {
    sid       = "AccountGrantsThroughIam"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # What CloudWatch needs to publish to a topic this key encrypts.
  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "this" {
  count = local.create_topic ? 1 : 0

  description             = "Encrypts the ${var.name} pipeline's alarm notifications (SNS topic)."
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key[0].json
}

resource "aws_kms_alias" "this" {
  count = local.create_topic ? 1 : 0

  name          = "alias/${var.name}-alarms"
  target_key_id = aws_kms_key.this[0].key_id
}

resource "aws_sns_topic" "this" {
  count = local.create_topic ? 1 : 0

  name              = "${var.name}-alarms"
  kms_master_key_id = aws_kms_key.this[0].arn
}

# CloudWatch alarms of this account publish; nothing else from outside it.
data "aws_iam_policy_document" "topic" {
  count = local.create_topic ? 1 : 0

  statement {
    sid       = "CloudWatchAlarmsOfThisAccount"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this[0].arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:*"]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this[0].arn]

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
}

resource "aws_sns_topic_policy" "this" {
  count = local.create_topic ? 1 : 0

  arn    = aws_sns_topic.this[0].arn
  policy = data.aws_iam_policy_document.topic[0].json
}

# Each address gets a confirmation e-mail from SNS and receives nothing until it confirms.
resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.emails)

  topic_arn = local.topic_arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = var.alarms

  alarm_name          = each.key
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric_name
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  extended_statistic  = each.value.extended_statistic
  period              = each.value.period
  evaluation_periods  = each.value.evaluation_periods
  datapoints_to_alarm = each.value.datapoints_to_alarm
  threshold           = each.value.threshold
  comparison_operator = each.value.comparison_operator
  treat_missing_data  = each.value.treat_missing_data
  alarm_actions       = [local.topic_arn]
  ok_actions          = [local.topic_arn]
}

# The API's 4XX rate: 4XX answers as a percent of requests, counted only in periods with enough requests
# for a rate to mean something (0 otherwise).
resource "aws_cloudwatch_metric_alarm" "client_error_rate" {
  alarm_name          = var.client_error_rate.name
  alarm_description   = var.client_error_rate.description
  evaluation_periods  = var.client_error_rate.evaluation_periods
  datapoints_to_alarm = var.client_error_rate.datapoints_to_alarm
  threshold           = var.client_error_rate.percent
  comparison_operator = "GreaterThanThreshold"
  # No requests, no rate: nothing is wrong.
  treat_missing_data = "notBreaching"
  alarm_actions      = [local.topic_arn]
  ok_actions         = [local.topic_arn]

  metric_query {
    id          = "rate"
    label       = "4XX, percent of requests"
    expression  = "IF(requests >= ${var.client_error_rate.min_requests}, 100 * errors / requests, 0)"
    return_data = true
  }

  metric_query {
    id = "errors"

    metric {
      namespace   = "AWS/ApiGateway"
      metric_name = "4XXError"
      dimensions  = { ApiName = var.client_error_rate.api_name, Stage = var.client_error_rate.stage }
      stat        = "Sum"
      period      = var.client_error_rate.period
    }
  }

  metric_query {
    id = "requests"

    metric {
      namespace   = "AWS/ApiGateway"
      metric_name = "Count"
      dimensions  = { ApiName = var.client_error_rate.api_name, Stage = var.client_error_rate.stage }
      stat        = "Sum"
      period      = var.client_error_rate.period
    }
  }
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = templatefile("${path.module}/dashboard.json.tftpl", { region = local.region })
}
