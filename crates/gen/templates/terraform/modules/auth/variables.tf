# {{ header }}

variable "auth" {
  description = "HTTP Basic auth: the authorizer function's name, the secret's name, the username, the authorizer cache TTL, the generated password's length and version (bump to rotate), how long after a rotation the previous password is still accepted (0 = never), the secret's recovery window, and the IAM principal ARNs (wildcards allowed) that may read the password besides the authorizer and the identity running Terraform."
  type = object({
    function_name                   = string
    secret_name                     = string
    username                        = string
    cache_ttl_seconds               = number
    password_length                 = number
    password_version                = number
    previous_password_grace_seconds = number
    recovery_window_in_days         = number
    readers                         = list(string)
  })
}

variable "function" {
  description = "The authorizer function's settings: architecture (x86_64 or arm64), memory, timeout, reserved concurrency (null for none) and log retention."
  type = object({
    architecture         = string
    memory_mb            = number
    timeout_seconds      = number
    reserved_concurrency = number
    log_retention_days   = number
  })
}

variable "zip_path" {
  description = "Path of the authorizer's deployment package (bootstrap.zip built by `cargo xtask build`)."
  type        = string
}

variable "kms_key_arn" {
  description = "The pipeline's customer-managed KMS key for the secret and the function, or null for the AWS-managed keys."
  type        = string
}

variable "tracing" {
  description = "Whether the authorizer sends X-Ray traces."
  type        = bool
}
