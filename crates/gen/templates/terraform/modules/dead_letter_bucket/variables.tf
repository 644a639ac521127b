# {{ header }}

variable "bucket" {
  description = "The dead-letter bucket: its name prefix (S3 adds a unique suffix) and how many days an object is kept."
  type = object({
    name_prefix     = string
    expiration_days = number
  })
}

variable "writer_role_arns" {
  description = "The writers' execution roles: the only principals that may put objects."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "The pipeline's customer-managed KMS key, or null for the AWS-managed aws/s3 key."
  type        = string
}
