# {{ header }}

variable "consumer" {
  description = "The consumer's event source mapping settings and its writer function's name."
  type = object({
    function_name              = string
    stream                     = string
    table                      = string
    dead_letter_queue          = string
    batch_size                 = number
    batching_window_seconds    = number
    starting_position          = string
    retry_attempts             = number
    maximum_record_age_seconds = number
    bisect_on_error            = bool
    parallelization_factor     = number
    filter_patterns            = list(string)
    environment                = map(string)
  })
}

variable "function" {
  description = "The writer function's settings: architecture (x86_64 or arm64), memory, timeout, reserved concurrency (null for none) and log retention."
  type = object({
    architecture         = string
    memory_mb            = number
    timeout_seconds      = number
    reserved_concurrency = number
    log_retention_days   = number
  })
}

variable "zip_path" {
  description = "Path of the writer's deployment package (bootstrap.zip built by `cargo xtask build`)."
  type        = string
}

variable "environment" {
  description = "Environment of the writer function from pipeline.toml (key names and types); the table name and queue URL are added here."
  type        = map(string)
}

variable "stream" {
  description = "The stream the consumer reads: its name, ARN and customer KMS key ARN (null for the AWS-managed key)."
  type = object({
    name        = string
    arn         = string
    kms_key_arn = string
  })
}

variable "table" {
  description = "The table the consumer writes: name and ARN."
  type = object({
    name = string
    arn  = string
  })
}

variable "dead_letter_queue" {
  description = "The consumer's dead-letter queue: ARN, URL and name."
  type = object({
    arn  = string
    url  = string
    name = string
  })
}

variable "kms_key_arn" {
  description = "The pipeline's customer-managed KMS key (the function's log group and environment, and the dead-letter queue it writes), or null for the AWS-managed keys."
  type        = string
}

variable "tracing" {
  description = "Whether the writer sends X-Ray traces."
  type        = bool
}

variable "dead_letter_bucket" {
  description = "The pipeline's dead-letter bucket (data of dead letters too large for the queue): name and ARN."
  type = object({
    name = string
    arn  = string
  })
}

variable "write_tables" {
  description = "The tables the consumer's own function may write (name and ARN each); null for the stock writer, which writes `table`."
  type = list(object({
    name = string
    arn  = string
  }))
  default = null
}

variable "description" {
  description = "The function's description; null for the stock writer's."
  type        = string
  default     = null
}
