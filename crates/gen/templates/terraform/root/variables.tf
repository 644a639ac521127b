# {{ header }}

variable "region" {
  description = "AWS region to deploy the pipeline into."
  type        = string
  default     = {{ region|hcl }}

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "region must be an AWS region name, e.g. us-east-1."
  }
}
