# {{ header }}
#
# AWS WAF in front of the API stage ([waf] in pipeline.toml): one rate-based rule per source IP. Above the
# limit WAF answers 429 with the error contract's Throttled body (WAF answers before API Gateway, so the body
# has no request id) until the IP's rate falls. Blocked requests are logged, with the Authorization header
# redacted.

resource "aws_wafv2_web_acl" "this" {
  #checkov:skip=CKV_AWS_192:No Java on the path (the body goes to Kinesis unparsed, the functions are Rust); a Log4j rule group could only block legitimate event data
  name        = "${var.waf.name}-api"
  description = "Rate limit per source IP in front of the ${var.waf.name} API."
  scope       = "REGIONAL"

  default_action {
    allow {}
  }

  custom_response_body {
    key          = "throttled"
    content      = var.waf.throttled_body
    content_type = "APPLICATION_JSON"
  }

  rule {
    name     = "rate-per-source-ip"
    priority = 0

    action {
      block {
        custom_response {
          response_code            = 429
          custom_response_body_key = "throttled"
        }
      }
    }

    statement {
      rate_based_statement {
        limit              = var.waf.rate_limit
        aggregate_key_type = "IP"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.waf.name}-rate-per-source-ip"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.waf.name}-api"
    sampled_requests_enabled   = true
  }
}

# The association with the stage is in modules/api, next to the stage.

# WAF's CloudWatch Logs destinations must be named aws-waf-logs-*.
resource "aws_cloudwatch_log_group" "this" {
{%- if !edge.cmk %}
  #checkov:skip=CKV_AWS_158:Encrypted by CloudWatch Logs' own key; set kms_key in pipeline.toml for a customer-managed one
{%- endif %}
  #checkov:skip=CKV_AWS_338:Retention is access_log_retention_days in pipeline.toml; these logs hold blocked requests' metadata
  name              = "aws-waf-logs-${var.waf.name}"
  retention_in_days = var.waf.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_wafv2_web_acl_logging_configuration" "this" {
  resource_arn            = aws_wafv2_web_acl.this.arn
  log_destination_configs = [aws_cloudwatch_log_group.this.arn]

  # The Basic credentials never reach the logs.
  redacted_fields {
    single_header {
      name = "authorization"
    }
  }

  # Allowed requests are in the API's access log already.
  logging_filter {
    default_behavior = "DROP"

    filter {
      behavior    = "KEEP"
      requirement = "MEETS_ANY"

      condition {
        action_condition {
          action = "BLOCK"
        }
      }
    }
  }
}
