module "platform" {
  source = "../../modules/platform"
  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
    aws.dr        = aws.dr
  }

  project                     = "dynasty"
  environment                 = var.environment
  availability_zones          = var.availability_zones
  vpc_cidr_block              = var.vpc_cidr_block
  single_nat_gateway          = var.single_nat_gateway
  domain_name                 = var.domain_name
  yourpropfirm_api_base_url   = var.yourpropfirm_api_base_url
  route53_zone_id             = var.route53_zone_id
  dmarc_report_address        = var.dmarc_report_address
  image_digest                = var.image_digest
  service_sizes               = var.service_sizes
  fargate_spot_weight_percent = var.fargate_spot_weight_percent
  aurora                      = var.aurora
  cache_node_type             = var.cache_node_type
  alert_email_addresses       = var.alert_email_addresses
  monthly_budget_usd          = var.monthly_budget_usd
  deletion_protection         = true
  tags                        = local.default_tags
}
