# {{ header }}

variable "waf" {
  description = "The web ACL: the pipeline's name, requests one source IP may send in any 5 minutes, the JSON body of the 429 answer, and the retention in days of the log of blocked requests."
  type = object({
    name               = string
    rate_limit         = number
    throttled_body     = string
    log_retention_days = number
  })
}

variable "kms_key_arn" {
  description = "The pipeline's customer-managed KMS key for the log group, or null for CloudWatch Logs' own encryption."
  type        = string
}
