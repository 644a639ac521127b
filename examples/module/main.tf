# Your own Terraform calling the pipeline as a module, the way terraform-aws-modules' examples/complete
# calls its module: the provider is yours (here: a region and default tags; in a real account, e.g. an
# assumed role), the pipeline is `source = "../../terraform/stack"`, and your resources sit next to it.
#
#   cargo xtask gen && cargo xtask build
#   terraform init && terraform apply
#
# This file is an example you own, not generated: `cargo xtask gen` never touches it.

terraform {
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}

variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "us-east-1"
}

variable "writer_zip_path" {
  description = "The writer's zip; null for the project's target/lambda/writer/bootstrap.zip."
  type        = string
  default     = null
}

variable "authorizer_zip_path" {
  description = "The authorizer's zip; null for the project's target/lambda/authorizer/bootstrap.zip."
  type        = string
  default     = null
}

variable "reset_api_gateway_account_on_destroy" {
  description = "Passed to the pipeline (false only against moto)."
  type        = bool
  default     = true
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      owner = "platform-team"
    }
  }
}

module "pipeline" {
  source = "../../terraform/stack"

  writer_zip_path                      = var.writer_zip_path
  authorizer_zip_path                  = var.authorizer_zip_path
  reset_api_gateway_account_on_destroy = var.reset_api_gateway_account_on_destroy
  credentials_recovery_window_days     = 0
}

# Something of yours that uses the pipeline's outputs: other stacks find the ingest URL here.
resource "aws_ssm_parameter" "ingest_url" {
  name  = "/platform/ingest/url"
  type  = "String"
  value = module.pipeline.api_url
}

output "api_url" {
  description = "The pipeline's invoke URL."
  value       = module.pipeline.api_url
}

output "table_names" {
  description = "The pipeline's tables, by logical name."
  value       = module.pipeline.table_names
}
