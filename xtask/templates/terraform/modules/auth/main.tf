# {{ header }}
#
# HTTP Basic auth: one Secrets Manager secret holding {"username": …, "password": …}, with a password
# Terraform generates without ever storing it (an ephemeral resource feeding a write-only argument), and
# the authorizer function (an instance of modules/function), the only reader of the secret.

ephemeral "aws_secretsmanager_random_password" "this" {
  password_length = var.auth.password_length
  # Letters and digits only: safe in an Authorization header and in a URL, no quoting needed anywhere.
  exclude_punctuation        = true
  include_space              = false
  require_each_included_type = true
}

resource "aws_secretsmanager_secret" "this" {
  name                    = var.auth.secret_name
  description             = "HTTP Basic credentials of the API, read by ${var.auth.function_name}."
  recovery_window_in_days = var.auth.recovery_window_in_days
}

resource "aws_secretsmanager_secret_version" "this" {
  secret_id = aws_secretsmanager_secret.this.id
  # Write-only: sent to Secrets Manager, never kept in the state or shown in a plan. Bump
  # password_version in pipeline.toml to generate and store a new password.
  secret_string_wo = jsonencode({
    username = var.auth.username
    password = ephemeral.aws_secretsmanager_random_password.this.random_password
  })
  secret_string_wo_version = var.auth.password_version
}

# The secret uses the AWS-managed Secrets Manager key, which needs no kms grant.
data "aws_iam_policy_document" "this" {
  statement {
    sid       = "ReadCredentials"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.this.arn]
  }
}

module "function" {
  source = "../function"

  name        = var.auth.function_name
  description = "Checks HTTP Basic credentials for API Gateway against ${var.auth.secret_name}."
  settings    = var.function
  zip_path    = var.zip_path
  environment = {
{%- for e in environment %}
    {{ e.key }}{{ e.pad }} = {{ e.value }}
{%- endfor %}
  }
  policy_json              = data.aws_iam_policy_document.this.json
  errors_alarm_description = "The ${var.auth.function_name} function is failing (requests get 500s)."
}
