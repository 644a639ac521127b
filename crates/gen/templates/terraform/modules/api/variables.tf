# {{ header }}

variable "api" {
  description = "The REST API: name, stage name, access log retention in days, stage throttling (requests per second and burst), whether to manage the region's API Gateway CloudWatch role (and reset the region's setting when destroyed), and X-Ray tracing of the stage."
  type = object({
    name                      = string
    stage                     = string
    access_log_retention_days = number
    throttle_rate_limit       = number
    throttle_burst_limit      = number
    manage_account            = bool
    reset_account_on_destroy  = bool
    xray_tracing              = bool
  })
}

variable "stream_arns" {
  description = "ARNs of the streams the routes write to: the integration role may put records into these and no others."
  type        = list(string)
}

variable "stream_kms_key_arns" {
  description = "Customer KMS keys of those streams (empty when they use the AWS-managed key)."
  type        = list(string)
}

variable "authorizer" {
  description = "The Basic authorizer function (name and invoke ARN), or null when no route needs auth."
  type = object({
    function_name = string
    invoke_arn    = string
  })
}

variable "kms_key_arn" {
  description = "The pipeline's customer-managed KMS key for the access log group, or null for CloudWatch Logs' own encryption."
  type        = string
}

variable "web_acl" {
  description = "The WAF web ACL protecting the stage (its ARN), or null for none."
  type = object({
    arn = string
  })
}
