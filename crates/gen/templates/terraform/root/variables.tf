# {{ header }}

variable "region" {
  description = "AWS region to deploy the pipeline into."
  type        = string
  default     = {{ region|hcl }}
}
{%- if auth %}

variable "authorizer_zip_path" {
  description = "The authorizer Lambda's deployment package; null means {{ lambda_dir.text }}/authorizer/bootstrap.zip (from this folder), where `cargo xtask build` writes it."
  type        = string
  default     = null
}
{%- endif %}

variable "writer_zip_path" {
  description = "The writer Lambda's deployment package; null means {{ lambda_dir.text }}/writer/bootstrap.zip (from this folder), where `cargo xtask build` writes it."
  type        = string
  default     = null
}
{%- if auth %}

variable "credentials_recovery_window_days" {
  description = "Days Secrets Manager keeps the deleted credentials secret recoverable (0 deletes it at once, else 7 to 30)."
  type        = number
  default     = 7
}

variable "credentials_readers" {
  description = "IAM principal ARNs (roles or users; wildcards allowed) that may read the credentials secret besides the authorizer and the identity running Terraform: e.g. the role that runs `cargo xtask smoke-test`, or the people who hand out the password. The secret's policy denies everyone else."
  type        = list(string)
  default     = []
}
{%- endif %}
