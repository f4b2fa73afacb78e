data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

# The account that delivers ALB access logs in regions older than August 2022.
data "aws_elb_service_account" "this" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # The retention policy of docs/infrastructure.md ("Data retention"), one lifecycle per bucket.
  data_buckets = {
    kyc-documents = {
      purpose               = "KYC documents (identity): envelope-encrypted by the service, then by S3 with the documents key"
      infrequent_after_days = 30
      archive_after_days    = 180
      expire_after_days     = var.retention.kyc_documents_days
      object_lock           = false
    }
    tax-forms = {
      purpose               = "W-9/W-8BEN and 1099 forms (payouts)"
      infrequent_after_days = 30
      archive_after_days    = 400
      expire_after_days     = var.retention.tax_forms_days
      object_lock           = false
    }
    reports = {
      purpose               = "Generated reports for admins and finance"
      infrequent_after_days = 30
      archive_after_days    = 180
      expire_after_days     = var.retention.reports_days
      object_lock           = false
    }
    audit-exports = {
      purpose               = "Hash-chained audit log exports; WORM through object lock in compliance mode"
      infrequent_after_days = 30
      archive_after_days    = 90
      expire_after_days     = var.retention.audit_exports_days
      object_lock           = true
    }
  }

  audit_trail_arn = "arn:${local.partition}:s3:::${local.bucket_names["audit-trail"]}"

  bucket_names = merge(
    { for key, _ in local.data_buckets : key => "${var.name}-${key}-${local.account_id}" },
    {
      access-logs = "${var.name}-access-logs-${local.account_id}"
      audit-trail = "${var.name}-audit-trail-${local.account_id}"
    },
  )
}

################################################################################
# Data buckets: KMS (documents key), versioning, no public access, TLS only, lifecycle per retention policy
################################################################################

module "data_bucket" {
  source   = "./modules/data-bucket"
  for_each = local.data_buckets

  bucket_name           = local.bucket_names[each.key]
  purpose               = each.value.purpose
  kms_key_arn           = var.documents_kms_key_arn
  access_logs_bucket    = aws_s3_bucket.access_logs.id
  access_logs_prefix    = "s3/${each.key}/"
  infrequent_after_days = each.value.infrequent_after_days
  archive_after_days    = each.value.archive_after_days
  expire_after_days     = each.value.expire_after_days
  noncurrent_days       = var.retention.noncurrent_versions_days
  object_lock_years     = each.value.object_lock ? var.audit_exports_lock_years : 0

  tags = merge(var.tags, { DataClass = "documents" })
}

################################################################################
# Access logs: S3 server access logs and ALB access logs. Both services deliver only to SSE-S3 buckets.
################################################################################

resource "aws_s3_bucket" "access_logs" {
  #checkov:skip=CKV_AWS_145:S3 server access logging and ALB access logs can only be delivered to a bucket encrypted with SSE-S3, not SSE-KMS.
  #checkov:skip=CKV_AWS_18:This is the access-log bucket; logging it into itself would loop.
  #checkov:skip=CKV_AWS_144:Access logs are operational data that need no second region.
  #checkov:skip=CKV2_AWS_62:Nothing consumes log delivery events; Athena queries the bucket on demand.
  bucket        = local.bucket_names["access-logs"]
  force_destroy = false

  tags = merge(var.tags, { Name = local.bucket_names["access-logs"], Purpose = "S3 server access logs and ALB access logs" })
}

resource "aws_s3_bucket_versioning" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  bucket                  = aws_s3_bucket.access_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    id     = "retention"
    status = "Enabled"
    filter {}

    transition {
      days          = 30
      storage_class = "STANDARD_IA"
    }
    expiration {
      days = var.retention.access_logs_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.access_logs]
}

data "aws_iam_policy_document" "access_logs" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.access_logs.arn, "${aws_s3_bucket.access_logs.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid       = "S3ServerAccessLogsOfThisAccount"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.access_logs.arn}/s3/*"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "AlbAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.access_logs.arn}/alb/AWSLogs/${local.account_id}/*"]
    principals {
      type        = "AWS"
      identifiers = [data.aws_elb_service_account.this.arn]
    }
  }

  statement {
    sid       = "AlbAccessLogsNewerRegions"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.access_logs.arn}/alb/AWSLogs/${local.account_id}/*"]
    principals {
      type        = "Service"
      identifiers = ["logdelivery.elasticloadbalancing.amazonaws.com"]
    }
  }
}

resource "aws_s3_bucket_policy" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  policy = data.aws_iam_policy_document.access_logs.json

  depends_on = [aws_s3_bucket_public_access_block.access_logs]
}

################################################################################
# Audit trail: CloudTrail and AWS Config deliveries, encrypted with the logs key
################################################################################

data "aws_iam_policy_document" "audit_trail_deliveries" {
  statement {
    sid       = "CloudTrailAndConfigReadAcl"
    actions   = ["s3:GetBucketAcl", "s3:ListBucket"]
    resources = [local.audit_trail_arn]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com", "config.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid     = "CloudTrailAndConfigWrite"
    actions = ["s3:PutObject"]
    resources = [
      "${local.audit_trail_arn}/cloudtrail/AWSLogs/${local.account_id}/*",
      "${local.audit_trail_arn}/config/AWSLogs/${local.account_id}/*",
    ]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com", "config.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "StringEquals"
      variable = "s3:x-amz-acl"
      values   = ["bucket-owner-full-control"]
    }
  }
}

module "audit_trail_bucket" {
  source = "./modules/data-bucket"

  bucket_name        = local.bucket_names["audit-trail"]
  purpose            = "CloudTrail and AWS Config deliveries"
  kms_key_arn        = var.logs_kms_key_arn
  access_logs_bucket = aws_s3_bucket.access_logs.id
  access_logs_prefix = "s3/audit-trail/"
  archive_after_days = 90
  expire_after_days  = var.retention.audit_trail_days
  noncurrent_days    = 90
  extra_policy_json  = data.aws_iam_policy_document.audit_trail_deliveries.json
  # CloudTrail and Config name the key in their own form (id or ARN); the bucket default covers them.
  refuse_other_keys = false

  tags = merge(var.tags, { DataClass = "logs" })
}
