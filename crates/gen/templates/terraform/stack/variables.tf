# {{ header }}
{%- if auth %}

variable "authorizer_zip_path" {
  description = "The authorizer Lambda's deployment package; null means {{ lambda_dir.text }}/authorizer/bootstrap.zip, where `cargo xtask build` writes it."
  type        = string
  default     = null

  validation {
    condition     = var.authorizer_zip_path == null || endswith(coalesce(var.authorizer_zip_path, ".zip"), ".zip")
    error_message = "authorizer_zip_path must be a .zip file (cargo xtask build writes bootstrap.zip), or null."
  }
}
{%- endif %}

variable "writer_zip_path" {
  description = "The writer Lambda's deployment package; null means {{ lambda_dir.text }}/writer/bootstrap.zip, where `cargo xtask build` writes it."
  type        = string
  default     = null

  validation {
    condition     = var.writer_zip_path == null || endswith(coalesce(var.writer_zip_path, ".zip"), ".zip")
    error_message = "writer_zip_path must be a .zip file (cargo xtask build writes bootstrap.zip), or null."
  }
}
{%- if functions %}

variable "function_zip_paths" {
  description = "Your functions' deployment packages, by function name; a function not listed uses {{ lambda_dir.text }}/<name>/bootstrap.zip, where `cargo xtask build` writes it."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for p in values(var.function_zip_paths) : endswith(p, ".zip")])
    error_message = "function_zip_paths must name .zip files (cargo xtask build writes bootstrap.zip)."
  }
}
{%- endif %}
{%- if manage_account %}

variable "reset_api_gateway_account_on_destroy" {
  description = "Whether destroying the stack resets the region's API Gateway account settings (the CloudWatch role this stack set) rather than leave them naming the deleted role. false only where the reset is not implemented (moto)."
  type        = bool
  default     = true
}
{%- endif %}
{%- if auth %}

variable "credentials_recovery_window_days" {
  description = "Days Secrets Manager keeps the deleted credentials secret recoverable (0 deletes it at once, else 7 to 30)."
  type        = number
  default     = 7

  validation {
    condition     = var.credentials_recovery_window_days == 0 || (var.credentials_recovery_window_days >= 7 && var.credentials_recovery_window_days <= 30)
    error_message = "credentials_recovery_window_days must be 0 (delete at once) or 7 to 30, Secrets Manager's recovery window."
  }
}

variable "credentials_readers" {
  description = "IAM principal ARNs (roles or users; wildcards allowed) that may read the credentials secret besides the authorizer and the identity running Terraform: e.g. the role that runs `cargo xtask smoke-test`, or the people who hand out the password. The secret's policy denies everyone else."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.credentials_readers : startswith(arn, "arn:")])
    error_message = "credentials_readers takes IAM principal ARNs (arn:aws:iam::<account>:role/<name> or user/<name>)."
  }
}

variable "deployers" {
  description = "IAM principal ARNs (roles or users; wildcards allowed) of everyone else who runs terraform plan or apply on this stack (a CI role, teammates). Terraform's refresh reads the credentials secret's version, and the secret's policy denies that to any principal it does not name; the identity applying is always named, so list the others before they first plan."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.deployers : startswith(arn, "arn:")])
    error_message = "deployers takes IAM principal ARNs (arn:aws:iam::<account>:role/<name> or user/<name>)."
  }
}
{%- endif %}
