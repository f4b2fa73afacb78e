# State lives in the bucket and lock table the bootstrap stack creates (bootstrap/).
# Partial configuration: the account-specific names come from backend.hcl at init time,
#   terraform init -backend-config=backend.hcl
# so the same code serves another account without edits.
terraform {
  backend "s3" {
    key          = "prod/platform.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}
