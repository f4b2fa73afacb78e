# The whole platform of one environment. envs/<environment>/ only adds the backend, the
# providers and the variable values, so staging and dev are this same composition.

data "aws_region" "current" {}

locals {
  name   = "${var.project}-${var.environment}${var.name_suffix}"
  region = data.aws_region.current.region

  api_domain_name    = "${var.api_subdomain}.${var.domain_name}"
  origin_domain_name = "origin-${var.api_subdomain}.${var.domain_name}"

  secret = module.secrets.secret_arns
  db_url = module.aurora.service_database_url_secret_arns
  bucket = module.s3.data_bucket_arns
  key    = module.kms.key_arns

  redis_url = { REDIS_URL = module.elasticache.redis_url_secret_arn }

  # How each process runs and what it may touch. Environment variable names are the
  # settings contract of libs/platform/settings.py and gateway/settings.py.
  services = {
    gateway = {
      command                         = ["python", "-m", "gateway.main"]
      port                            = 8080
      protocol                        = "http"
      cpu                             = var.service_sizes.gateway.cpu
      memory                          = var.service_sizes.gateway.memory
      min_count                       = var.service_sizes.gateway.min_count
      max_count                       = var.service_sizes.gateway.max_count
      target_cpu_percent              = 60
      target_requests_per_task_minute = 6000
      load_balanced                   = true
      migrations                      = false
      environment                     = { DYNASTY_GATEWAY_PORT = "8080", DYNASTY_PUBLIC_BASE_URL = "https://${local.api_domain_name}", DYNASTY_TRUSTED_PROXY_COUNT = "2" } # CloudFront, then the ALB
      secrets = merge(local.redis_url, {
        DYNASTY_STRIPE_WEBHOOK_SECRET         = local.secret["stripe/webhook-signing"]
        DYNASTY_STRIPE_CONNECT_WEBHOOK_SECRET = local.secret["stripe/connect-webhook"]
        DYNASTY_YOURPROPFIRM_WEBHOOK_SECRET   = local.secret["yourpropfirm/webhook-signing"]
      })
      s3_bucket_arns = []
      kms_key_arns   = []
      send_email     = false
      send_sms       = false
    }
    identity = {
      command                         = ["python", "-m", "services.identity.main"]
      port                            = 50051
      protocol                        = "grpc"
      cpu                             = var.service_sizes.identity.cpu
      memory                          = var.service_sizes.identity.memory
      min_count                       = var.service_sizes.identity.min_count
      max_count                       = var.service_sizes.identity.max_count
      target_cpu_percent              = 60
      target_requests_per_task_minute = 6000
      load_balanced                   = false
      migrations                      = true
      # Names as libs/platform/settings.py IdentitySettings reads them. Signing keys live in identity's schema,
      # sealed by the KMS key below (ADR 0032), so no JWT key material is passed in.
      environment = {
        DYNASTY_GRPC_PORT                      = "50051"
        DYNASTY_IDENTITY_OBJECT_STORAGE_BUCKET = module.s3.data_bucket_names["kyc-documents"]
        DYNASTY_IDENTITY_KMS_KEY_ID            = local.key["documents"]
        DYNASTY_IDENTITY_KMS_MAC_KEY_ID        = module.kms.mac_key_arn
        DYNASTY_IDENTITY_EMAIL_BACKEND         = "ses"
        DYNASTY_IDENTITY_SES_CONFIGURATION_SET = module.notifications.ses_configuration_set_name
        DYNASTY_IDENTITY_MAIL_FROM             = "Dynasty Futures <no-reply@${var.domain_name}>"
        DYNASTY_IDENTITY_PUBLIC_BASE_URL       = "https://${local.api_domain_name}"
      }
      secrets = merge(local.redis_url, {
        DATABASE_URL           = local.db_url["identity"]
        DYNASTY_STRIPE_API_KEY = local.secret["stripe/api-key"] # Stripe Identity (KYC)
      })
      s3_bucket_arns = [local.bucket["kyc-documents"]]
      kms_key_arns   = [local.key["documents"], module.kms.mac_key_arn]
      send_email     = true
      send_sms       = true
    }
    challenges = {
      command                         = ["python", "-m", "services.challenges.main"]
      port                            = 50052
      protocol                        = "grpc"
      cpu                             = var.service_sizes.challenges.cpu
      memory                          = var.service_sizes.challenges.memory
      min_count                       = var.service_sizes.challenges.min_count
      max_count                       = var.service_sizes.challenges.max_count
      target_cpu_percent              = 60
      target_requests_per_task_minute = 6000
      load_balanced                   = false
      migrations                      = true
      # Credentials mail goes through SES (services/challenges/settings.py; send_email below grants ses:SendEmail on
      # the domain identity and this configuration set, whose TLS policy is REQUIRE).
      environment = {
        DYNASTY_GRPC_PORT                        = "50052"
        DYNASTY_YOURPROPFIRM_API_BASE            = var.yourpropfirm_api_base_url
        DYNASTY_REPORTS_BUCKET                   = module.s3.data_bucket_names["reports"]
        DYNASTY_CHALLENGES_EMAIL_BACKEND         = "ses"
        DYNASTY_CHALLENGES_SES_CONFIGURATION_SET = module.notifications.ses_configuration_set_name
        DYNASTY_CHALLENGES_MAIL_FROM             = "Dynasty Futures <accounts@${var.domain_name}>"
        # Platform passwords are sealed under this key until the trader reveals them (ADR 0045): every task must
        # open what another sealed, so the key is KMS, never a per-container file.
        DYNASTY_CHALLENGES_KMS_KEY_ID = local.key["documents"]
      }
      secrets = merge(local.redis_url, {
        DATABASE_URL                  = local.db_url["challenges"]
        DYNASTY_STRIPE_API_KEY        = local.secret["stripe/api-key"]
        DYNASTY_STRIPE_WEBHOOK_SECRET = local.secret["stripe/webhook-signing"] # it checks the forwarded signature again
        DYNASTY_YOURPROPFIRM_API_KEY  = local.secret["yourpropfirm/api-key"]
      })
      s3_bucket_arns = [local.bucket["reports"]]
      kms_key_arns   = [local.key["documents"]]
      send_email     = true
      send_sms       = false
    }
    rules = {
      command                         = ["python", "-m", "services.rules.main"]
      port                            = 50053
      protocol                        = "grpc"
      cpu                             = var.service_sizes.rules.cpu
      memory                          = var.service_sizes.rules.memory
      min_count                       = var.service_sizes.rules.min_count
      max_count                       = var.service_sizes.rules.max_count
      target_cpu_percent              = 50 # headroom for the burst at market open
      target_requests_per_task_minute = 12000
      load_balanced                   = false
      migrations                      = true
      environment                     = { DYNASTY_GRPC_PORT = "50053", DYNASTY_YOURPROPFIRM_API_BASE = var.yourpropfirm_api_base_url }
      secrets = merge(local.redis_url, {
        DATABASE_URL                        = local.db_url["rules"]
        DYNASTY_YOURPROPFIRM_API_KEY        = local.secret["yourpropfirm/api-key"]
        DYNASTY_YOURPROPFIRM_WEBHOOK_SECRET = local.secret["yourpropfirm/webhook-signing"] # checked again on ingest
      })
      s3_bucket_arns = []
      kms_key_arns   = []
      send_email     = false
      send_sms       = false
    }
    payouts = {
      command                         = ["python", "-m", "services.payouts.main"]
      port                            = 50054
      protocol                        = "grpc"
      cpu                             = var.service_sizes.payouts.cpu
      memory                          = var.service_sizes.payouts.memory
      min_count                       = var.service_sizes.payouts.min_count
      max_count                       = var.service_sizes.payouts.max_count
      target_cpu_percent              = 60
      target_requests_per_task_minute = 6000
      load_balanced                   = false
      migrations                      = true
      environment = {
        DYNASTY_GRPC_PORT            = "50054"
        DYNASTY_TAX_FORMS_BUCKET     = module.s3.data_bucket_names["tax-forms"]
        DYNASTY_REPORTS_BUCKET       = module.s3.data_bucket_names["reports"]
        DYNASTY_AUDIT_EXPORTS_BUCKET = module.s3.data_bucket_names["audit-exports"]
        DYNASTY_ENVELOPE_KMS_KEY_ARN = local.key["documents"]
        DYNASTY_SES_CONFIGURATION    = module.notifications.ses_configuration_set_name
        DYNASTY_EMAIL_FROM           = "payouts@${var.domain_name}"
      }
      secrets = merge(local.redis_url, {
        DATABASE_URL           = local.db_url["payouts"]
        DYNASTY_STRIPE_API_KEY = local.secret["stripe/api-key"]
      })
      s3_bucket_arns = [local.bucket["tax-forms"], local.bucket["reports"], local.bucket["audit-exports"]]
      kms_key_arns   = [local.key["documents"]]
      send_email     = true
      send_sms       = false
    }
  }
}

module "kms" {
  source = "../kms"

  name = local.name
  tags = var.tags
}

module "network" {
  source = "../network"

  name               = "${local.name}-vpc"
  cidr_block         = var.vpc_cidr_block
  availability_zones = var.availability_zones
  single_nat_gateway = var.single_nat_gateway
  logs_kms_key_arn   = local.key["logs"]
  tags               = var.tags
}

module "s3" {
  source = "../s3"

  name                  = local.name
  documents_kms_key_arn = local.key["documents"]
  logs_kms_key_arn      = local.key["logs"]
  tags                  = var.tags
}

module "secrets" {
  source = "../secrets"

  name                = local.name
  secrets_kms_key_arn = local.key["secrets"]
  tags                = var.tags
}

module "ecr" {
  source = "../ecr"

  repository_name       = "${local.name}-backend"
  artifacts_kms_key_arn = local.key["artifacts"]
  tags                  = var.tags
}

module "notifications" {
  source = "../notifications"

  name                 = local.name
  region               = local.region
  email_domain         = var.domain_name
  route53_zone_id      = var.route53_zone_id
  dmarc_report_address = var.dmarc_report_address
  kms_key_arn          = local.key["documents"]
  tags                 = var.tags
}

module "aurora" {
  source = "../aurora"

  name                  = "${local.name}-aurora"
  subnet_ids            = module.network.isolated_data_subnet_ids
  availability_zones    = var.availability_zones
  security_group_id     = module.network.data_security_group_id
  capacity_mode         = var.aurora.capacity_mode
  serverless_min_acu    = var.aurora.serverless_min_acu
  serverless_max_acu    = var.aurora.serverless_max_acu
  reader_count          = var.aurora.reader_count
  reader_max_count      = var.aurora.reader_max_count
  backup_retention_days = var.aurora.backup_retention_days
  deletion_protection   = var.deletion_protection
  database_kms_key_arn  = local.key["database"]
  secrets_kms_key_arn   = local.key["secrets"]
  tags                  = var.tags
}

module "backup" {
  source = "../backup"
  providers = {
    aws    = aws
    aws.dr = aws.dr
  }

  name                 = "${local.name}-backup"
  resource_arns        = [module.aurora.cluster_arn]
  database_kms_key_arn = local.key["database"]
  tags                 = var.tags
}

module "elasticache" {
  source = "../elasticache"

  name                = "${local.name}-cache"
  subnet_ids          = module.network.isolated_data_subnet_ids
  security_group_id   = module.network.data_security_group_id
  node_type           = var.cache_node_type
  cache_kms_key_arn   = local.key["cache"]
  secrets_kms_key_arn = local.key["secrets"]
  logs_kms_key_arn    = local.key["logs"]
  tags                = var.tags
}

module "waf_regional" {
  source = "../waf"

  name                  = "${local.name}-alb"
  scope                 = "REGIONAL"
  blocked_country_codes = var.blocked_country_codes
  logs_kms_key_arn      = local.key["logs"]
  tags                  = var.tags
}

module "waf_edge" {
  source    = "../waf"
  providers = { aws = aws.us_east_1 }

  name                  = "${local.name}-edge"
  scope                 = "CLOUDFRONT"
  blocked_country_codes = var.blocked_country_codes
  logs_kms_key_arn      = var.edge_logs_kms_key_arn != "" ? var.edge_logs_kms_key_arn : local.key["logs"]
  tags                  = var.tags
}

module "alb" {
  source = "../alb"

  name                  = local.name
  vpc_id                = module.network.vpc_id
  public_subnet_ids     = module.network.public_subnet_ids
  app_security_group_id = module.network.app_security_group_id
  origin_domain_name    = local.origin_domain_name
  route53_zone_id       = var.route53_zone_id
  access_logs_bucket    = module.s3.access_logs_bucket_name
  web_acl_arn           = module.waf_regional.web_acl_arn
  deletion_protection   = var.deletion_protection
  tags                  = var.tags
}

module "cloudfront" {
  source    = "../cloudfront"
  providers = { aws = aws.us_east_1 }

  name                       = "${local.name}-edge"
  api_domain_name            = local.api_domain_name
  route53_zone_id            = var.route53_zone_id
  origin_domain_name         = module.alb.origin_domain_name
  origin_verify_header_name  = module.alb.origin_verify_header_name
  origin_verify_header_value = module.alb.origin_verify_header_value
  web_acl_arn                = module.waf_edge.web_acl_arn
  blocked_country_codes      = var.blocked_country_codes
  logs_kms_key_arn           = var.edge_logs_kms_key_arn != "" ? var.edge_logs_kms_key_arn : local.key["logs"]
  tags                       = var.tags
}

module "observability" {
  source = "../observability"

  name                      = local.name
  project_tag_value         = var.project
  alert_email_addresses     = var.alert_email_addresses
  alb_arn_suffix            = module.alb.alb_arn_suffix
  target_group_arn_suffix   = module.alb.target_group_arn_suffix
  aurora_cluster_identifier = module.aurora.cluster_identifier
  ecs_cluster_name          = local.name
  ecs_service_names         = keys(local.services)
  audit_trail_bucket_name   = module.s3.audit_trail_bucket_name
  sensitive_bucket_arns     = [local.bucket["kyc-documents"], local.bucket["tax-forms"]]
  logs_kms_key_arn          = local.key["logs"]
  monthly_budget_usd        = var.monthly_budget_usd
  tags                      = var.tags
}

module "ecs" {
  source = "../ecs"

  name                        = local.name
  environment                 = var.environment
  image_repository_url        = module.ecr.repository_url
  image_repository_arn        = module.ecr.repository_arn
  image_digest                = var.image_digest
  services                    = local.services
  subnet_ids                  = module.network.private_app_subnet_ids
  app_security_group_id       = module.network.app_security_group_id
  target_group_arn            = module.alb.target_group_arn
  alb_arn_suffix              = module.alb.alb_arn_suffix
  target_group_arn_suffix     = module.alb.target_group_arn_suffix
  fargate_spot_weight_percent = var.fargate_spot_weight_percent
  ses_identity_arn            = module.notifications.ses_identity_arn
  ses_configuration_set_name  = module.notifications.ses_configuration_set_name
  secrets_kms_key_arn         = local.key["secrets"]
  logs_kms_key_arn            = local.key["logs"]
  tags                        = var.tags

  deployment_alarm_names = {
    gateway = module.observability.gateway_deployment_alarm_names
    rules   = module.observability.rules_deployment_alarm_names
  }

  # ECS refuses a service whose target group is not yet attached to a listener.
  depends_on = [module.alb]
}
