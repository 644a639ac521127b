# {{ header }}

variable "name" {
  description = "The function's name; also its role's and log group's."
  type        = string
}

variable "description" {
  description = "The function's description."
  type        = string
}

variable "settings" {
  description = "The function's settings from pipeline.toml: architecture (x86_64 or arm64), memory, timeout, reserved concurrency (null for none) and log retention."
  type = object({
    architecture         = string
    memory_mb            = number
    timeout_seconds      = number
    reserved_concurrency = number
    log_retention_days   = number
  })
}

variable "zip_path" {
  description = "Path of the function's deployment package (bootstrap.zip built by `cargo xtask build`)."
  type        = string
}

variable "environment" {
  description = "The function's environment variables."
  type        = map(string)
}

variable "policy_json" {
  description = "An IAM policy document (JSON) with what the function may do besides writing its own logs."
  type        = string
}

variable "kms_key_arn" {
  description = "The pipeline's customer-managed KMS key (log group, environment, and the function may use it), or null for the AWS-managed keys."
  type        = string
}

variable "kms_key_actions" {
  description = "What the function does with the pipeline's key: kms:Decrypt to read what it encrypts (and the environment), kms:GenerateDataKey to write."
  type        = list(string)
}

variable "tracing" {
  description = "Whether the function sends X-Ray traces (active tracing)."
  type        = bool
}
