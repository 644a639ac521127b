# {{ header }}

terraform {
  # 1.11: write-only arguments (the credentials secret never enters the state) and ephemeral resources.
  required_version = ">= 1.11"

  required_providers {
    # Tested with 5.100.0 (applied against moto on every CI run): 5.100 and later 5.x. For 6.x the modules
    # would read data.aws_region.current.region where they read .name (deprecated in 6, absent in 5).
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}
