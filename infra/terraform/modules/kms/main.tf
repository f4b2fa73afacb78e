data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.region
  partition  = data.aws_partition.current.partition

  # AWS services that must use a class's key on our behalf, beyond the IAM principals of this account.
  # Each service is limited to this account's resources through aws:SourceAccount or an encryption context.
  service_principals_by_class = {
    logs = [
      "cloudtrail.amazonaws.com",
      "cloudwatch.amazonaws.com",
      "events.amazonaws.com",
      "budgets.amazonaws.com",
      "costalerts.amazonaws.com",
      "config.amazonaws.com",
      "delivery.logs.amazonaws.com",
    ]
    documents = ["ses.amazonaws.com"]
  }
}

resource "aws_kms_key" "this" {
  for_each = toset(var.data_classes)

  description             = "${var.name} ${each.key}: customer-managed key for the ${each.key} data class"
  enable_key_rotation     = true
  rotation_period_in_days = var.rotation_period_in_days
  deletion_window_in_days = var.deletion_window_in_days
  multi_region            = false

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          # Without this statement no IAM policy in the account could grant use of the key.
          Sid       = "AccountAdministersKeyThroughIam"
          Effect    = "Allow"
          Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
          Action    = "kms:*"
          Resource  = "*"
        },
      ],
      each.key != "logs" ? [] : [
        {
          # CloudWatch Logs does not send aws:SourceAccount; the encryption context names the log group instead.
          Sid       = "CloudWatchLogsOfThisAccountUseKey"
          Effect    = "Allow"
          Principal = { Service = "logs.${local.region}.amazonaws.com" }
          Action    = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
          Resource  = "*"
          Condition = {
            ArnLike = { "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${local.region}:${local.account_id}:*" }
          }
        },
      ],
      length(lookup(local.service_principals_by_class, each.key, [])) == 0 ? [] : [
        {
          Sid       = "AwsServicesOfThisAccountUseKey"
          Effect    = "Allow"
          Principal = { Service = lookup(local.service_principals_by_class, each.key, []) }
          Action = [
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:ReEncrypt*",
            "kms:GenerateDataKey*",
            "kms:DescribeKey",
          ]
          Resource = "*"
          Condition = {
            StringEquals = { "aws:SourceAccount" = local.account_id }
          }
        },
      ],
    )
  })

  tags = merge(var.tags, {
    Name      = "${var.name}-${each.key}"
    DataClass = each.key
  })
}

resource "aws_kms_alias" "this" {
  for_each = aws_kms_key.this

  name          = "alias/${var.name}-${each.key}"
  target_key_id = each.value.key_id
}

################################################################################
# HMAC key: identity derives purpose-specific secrets (signed email links) with KMS GenerateMac, because a KMS key
# never leaves KMS and so cannot be fed to a local KDF.
################################################################################

resource "aws_kms_key" "mac" {
  #checkov:skip=CKV_AWS_7:HMAC keys do not support automatic rotation; rotate by creating a new key and switching DYNASTY_IDENTITY_KMS_MAC_KEY_ID (runbook identity-master-key)
  description              = "${var.name} identity-mac: HMAC key for derived secrets (GenerateMac)"
  customer_master_key_spec = "HMAC_256"
  key_usage                = "GENERATE_VERIFY_MAC"
  deletion_window_in_days  = var.deletion_window_in_days
  multi_region             = false

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # Without this statement no IAM policy in the account could grant use of the key.
        Sid       = "AccountAdministersKeyThroughIam"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
    ]
  })

  tags = merge(var.tags, {
    Name      = "${var.name}-identity-mac"
    DataClass = "secrets"
  })
}

resource "aws_kms_alias" "mac" {
  name          = "alias/${var.name}-identity-mac"
  target_key_id = aws_kms_key.mac.key_id
}
