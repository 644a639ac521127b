# {{ header }}
#
# HTTP Basic auth: one Secrets Manager secret holding {"username": …, "password": …}, with a password
# Terraform generates without ever storing it (an ephemeral resource feeding a write-only argument), and
# the authorizer function (an instance of modules/function). The secret's resource policy denies reading
# the value to everyone but the authorizer's role, the identity running Terraform (it reads the version back
# on every refresh, and hands out the password) and the readers named in var.auth.readers.

ephemeral "aws_secretsmanager_random_password" "this" {
  password_length = var.auth.password_length
  # Letters and digits only: safe in an Authorization header and in a URL, no quoting needed anywhere.
  exclude_punctuation        = true
  include_space              = false
  require_each_included_type = true
}

resource "aws_secretsmanager_secret" "this" {
{%- if !edge.cmk %}
  #checkov:skip=CKV_AWS_149:Encrypted with the AWS-managed Secrets Manager key; set kms_key in pipeline.toml for a customer-managed one
{%- endif %}
  #checkov:skip=CKV2_AWS_57:Rotated by Terraform: bumping auth.password_version in pipeline.toml writes a new password (write-only, never in the state)
  name                    = var.auth.secret_name
  description             = "HTTP Basic credentials of the API, read by ${var.auth.function_name}."
  recovery_window_in_days = var.auth.recovery_window_in_days
  kms_key_id              = var.kms_key_arn
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

data "aws_caller_identity" "current" {}

# The role (or user) behind the credentials running Terraform, not its session: what aws:PrincipalArn holds.
data "aws_iam_session_context" "current" {
  arn = data.aws_caller_identity.current.arn
}

data "aws_iam_policy_document" "secret" {
  statement {
    sid       = "OnlyNamedReadersGetTheValue"
    effect    = "Deny"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["*"]
    }

    condition {
      test     = "ArnNotLike"
      variable = "aws:PrincipalArn"
      values   = distinct(concat([module.function.role_arn, data.aws_iam_session_context.current.issuer_arn], var.auth.readers))
    }
  }
}

resource "aws_secretsmanager_secret_policy" "this" {
  secret_arn          = aws_secretsmanager_secret.this.arn
  policy              = data.aws_iam_policy_document.secret.json
  block_public_policy = true
}

# With the pipeline's customer-managed key, modules/function adds kms:Decrypt on it.
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
  kms_key_arn = var.kms_key_arn
  # Reads the secret and its environment; writes nothing the key encrypts.
  kms_key_actions = ["kms:Decrypt"]
  tracing         = var.tracing
  environment = {
{%- for e in environment %}
    {{ e.key }}{{ e.pad }} = {{ e.value }}
{%- endfor %}
  }
  policy_json = data.aws_iam_policy_document.this.json
}
