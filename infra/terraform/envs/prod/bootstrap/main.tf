# Run once per account, with local state, before anything else (docs/infrastructure.md,
# bootstrapping step 2). It creates what every other stack depends on: the state bucket,
# the lock table, and the GitHub OIDC roles the pipeline assumes. Afterwards its own state
# is moved into the bucket it created (rename state-backend.tf.next, then
# `terraform init -migrate-state`).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  github_sub = "repo:${var.github_repository}"
}

################################################################################
# State: a KMS key, a versioned bucket, a lock table
################################################################################

resource "aws_kms_key" "state" {
  description             = "${local.name} Terraform state and locks"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministersKeyThroughIam"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
    ]
  })

  tags = merge(local.default_tags, { Name = "${local.name}-tfstate" })
}

resource "aws_kms_alias" "state" {
  name          = "alias/${local.name}-tfstate"
  target_key_id = aws_kms_key.state.key_id
}

resource "aws_s3_bucket" "state" {
  #checkov:skip=CKV_AWS_144:State is small and rebuilt from code plus the backups of the data stores; a second region adds nothing at this scale.
  #checkov:skip=CKV2_AWS_62:Nothing has to react to state writes; Terraform reads the state on demand.
  #checkov:skip=CKV_AWS_18:Reads and writes of state are recorded by CloudTrail data events of the platform trail; an access-log bucket here would have to exist before the platform does.
  bucket = "${local.name}-tfstate-${local.account_id}"

  tags = merge(local.default_tags, { Name = "${local.name}-tfstate" })

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.state.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket                  = aws_s3_bucket.state.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    id     = "old-state-versions"
    status = "Enabled"
    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 365
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.state]
}

data "aws_iam_policy_document" "state" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.state.arn, "${aws_s3_bucket.state.arn}/*"]
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
}

resource "aws_s3_bucket_policy" "state" {
  bucket = aws_s3_bucket.state.id
  policy = data.aws_iam_policy_document.state.json

  depends_on = [aws_s3_bucket_public_access_block.state]
}

resource "aws_dynamodb_table" "lock" {
  name         = "${local.name}-tflock"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "LockID"

  attribute {
    name = "LockID"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.state.arn
  }

  deletion_protection_enabled = true

  tags = merge(local.default_tags, { Name = "${local.name}-tflock" })
}

################################################################################
# GitHub Actions: OIDC, no long-lived keys. Each role trusts one kind of workflow run.
################################################################################

resource "aws_iam_openid_connect_provider" "github" {
  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]

  tags = local.default_tags
}

data "aws_iam_policy_document" "github_trust" {
  for_each = {
    # Pull requests and main may plan (read-only).
    plan = ["${local.github_sub}:pull_request", "${local.github_sub}:ref:refs/heads/main"]
    # Only jobs bound to the approved GitHub environment may deploy or apply.
    deploy    = ["${local.github_sub}:environment:${var.environment}"]
    terraform = ["${local.github_sub}:environment:${var.environment}-infrastructure"]
  }

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.github.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = each.value
    }
  }
}

resource "aws_iam_role" "github" {
  for_each = data.aws_iam_policy_document.github_trust

  name                 = "${local.name}-github-${each.key}"
  assume_role_policy   = each.value.json
  max_session_duration = 3600

  tags = local.default_tags
}

# plan: read everything (terraform plan), read and lock state.
resource "aws_iam_role_policy_attachment" "plan_read_only" {
  role       = aws_iam_role.github["plan"].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/ReadOnlyAccess"
}

data "aws_iam_policy_document" "state_access" {
  statement {
    sid       = "StateObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.state.arn}/*"]
  }
  statement {
    sid       = "StateBucket"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.state.arn]
  }
  statement {
    sid       = "Locks"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:DescribeTable"]
    resources = [aws_dynamodb_table.lock.arn]
  }
  statement {
    sid       = "StateKey"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [aws_kms_key.state.arn]
  }
}

resource "aws_iam_role_policy" "state_access" {
  for_each = toset(["plan", "terraform"])

  name   = "terraform-state"
  role   = aws_iam_role.github[each.key].id
  policy = data.aws_iam_policy_document.state_access.json
}

# deploy: push the image, register task definitions, run migrations, update services.
data "aws_iam_policy_document" "deploy" {
  statement {
    #checkov:skip=CKV_AWS_356:ecr:GetAuthorizationToken and the ECS Describe/Register calls have no resource-level permissions.
    sid = "AccountWideCallsWithoutResourceScope"
    actions = [
      "ecr:GetAuthorizationToken",
      "ecs:RegisterTaskDefinition",
      "ecs:DescribeTaskDefinition",
      "ecs:DescribeServices",
      "ecs:DescribeTasks",
    ]
    resources = ["*"]
  }
  statement {
    sid = "PushImages"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:InitiateLayerUpload",
      "ecr:UploadLayerPart",
      "ecr:CompleteLayerUpload",
      "ecr:PutImage",
      "ecr:BatchGetImage",
      "ecr:DescribeImages",
    ]
    resources = ["arn:${local.partition}:ecr:${var.region}:${local.account_id}:repository/${local.name}-backend"]
  }
  statement {
    sid       = "RunMigrationsAndUpdateServices"
    actions   = ["ecs:RunTask", "ecs:UpdateService", "ecs:DescribeServices", "ecs:DescribeTasks", "ecs:StopTask"]
    resources = ["*"]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = ["arn:${local.partition}:ecs:${var.region}:${local.account_id}:cluster/${local.name}"]
    }
  }
  statement {
    sid       = "PassOnlyTheServiceRoles"
    actions   = ["iam:PassRole"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/${local.name}-*-task", "arn:${local.partition}:iam::${local.account_id}:role/${local.name}-*-execution"]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
  statement {
    sid       = "ReadMigrationLogs"
    actions   = ["logs:GetLogEvents", "logs:FilterLogEvents"]
    resources = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:/ecs/${local.name}/*"]
  }
}

resource "aws_iam_role_policy" "deploy" {
  name   = "deploy-services"
  role   = aws_iam_role.github["deploy"].id
  policy = data.aws_iam_policy_document.deploy.json
}

# terraform: applies the platform, which creates IAM roles, KMS keys and everything else.
resource "aws_iam_role_policy_attachment" "terraform_admin" {
  #checkov:skip=CKV_AWS_274:Applying the platform creates IAM, KMS and networking; the role is assumable only from the <env>-infrastructure GitHub environment, which requires a reviewer's approval.
  role       = aws_iam_role.github["terraform"].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AdministratorAccess"
}
