# Terraform creates the secret containers only. Their values are put by an operator or the
# CD pipeline (docs/infrastructure.md, step 6), so no third-party credential ever sits in state.
locals {
  secrets = {
    "stripe/api-key"               = "Stripe secret API key (challenges, payouts)"
    "stripe/webhook-signing"       = "Stripe webhook endpoint signing secret (gateway)"
    "stripe/connect-webhook"       = "Stripe Connect webhook endpoint signing secret (gateway)"
    "yourpropfirm/api-key"         = "YourPropFirm platform API key (challenges, rules)"
    "yourpropfirm/webhook-signing" = "YourPropFirm webhook signing secret (gateway)"
    "jwt/signing-keys"             = "JWT signing key set as JWKS JSON: the active key and the previous one during rotation (identity, gateway)"
  }
}

resource "aws_secretsmanager_secret" "this" {
  #checkov:skip=CKV2_AWS_57:Third-party keys are rotated at Stripe and YourPropFirm and then put here (docs/runbooks); the JWT key set is rotated by publishing a new key next to the old one, which a Lambda rotator would not know how to do.
  for_each = local.secrets

  name                    = "${var.name}/${each.key}"
  description             = each.value
  kms_key_id              = var.secrets_kms_key_arn
  recovery_window_in_days = var.recovery_window_in_days

  tags = var.tags
}
