locals {
  # Every resource carries these tags: through the providers' default_tags, and through the
  # modules' own `tags` (recovery points, propagated ECS tags and tag-based budgets read those).
  default_tags = {
    Project     = "dynasty"
    Environment = var.environment
    Owner       = "platform-team"
    CostCenter  = "dynasty-${var.environment}"
    ManagedBy   = "terraform"
    Repository  = var.repository
  }
}

provider "aws" {
  region              = var.region
  allowed_account_ids = [var.account_id]

  default_tags {
    tags = local.default_tags
  }
}

# CloudFront certificates, the edge WAF and CloudFront log delivery only exist in us-east-1.
provider "aws" {
  alias               = "us_east_1"
  region              = "us-east-1"
  allowed_account_ids = [var.account_id]

  default_tags {
    tags = local.default_tags
  }
}

# Disaster-recovery region: backup copies land here.
provider "aws" {
  alias               = "dr"
  region              = var.dr_region
  allowed_account_ids = [var.account_id]

  default_tags {
    tags = local.default_tags
  }
}
