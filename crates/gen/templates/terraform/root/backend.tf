# {{ header }}
#
# The stack's state, in S3 ([terraform.backend] in pipeline.toml). The bucket must exist before
# `terraform init`; keep versioning on so a bad apply's state can be rolled back.

terraform {
  backend "s3" {
    bucket  = {{ b.bucket|hcl }}
    key     = {{ b.key|hcl }}
    region  = {{ b.region|hcl }}
    encrypt = true
{%- if b.use_lockfile %}
    # An S3 lock file (Terraform 1.10 and later): two applies never interleave.
    use_lockfile = true
{%- endif %}
{%- match b.dynamodb_table %}
{%- when Some with (table) %}
    dynamodb_table = {{ table|hcl }}
{%- when None %}
{%- endmatch %}
  }
}
