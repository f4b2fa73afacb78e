terraform {
  # Compositions pin exact versions; CI's `terraform init` writes .terraform.lock.hcl with the hashes.
  required_version = "~> 1.15.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "6.22.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "3.7.2"
    }
  }
}
