locals {
  name = "dynasty-${var.environment}"

  default_tags = {
    Project     = "dynasty"
    Environment = var.environment
    Owner       = "platform-team"
    CostCenter  = "dynasty-${var.environment}"
    ManagedBy   = "terraform"
    Repository  = var.github_repository
  }
}

provider "aws" {
  region              = var.region
  allowed_account_ids = [var.account_id]

  default_tags {
    tags = local.default_tags
  }
}
