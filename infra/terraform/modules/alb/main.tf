# Only CloudFront's origin-facing addresses may reach the ALB, and only with the secret header
# CloudFront adds, so WAF at the edge cannot be bypassed (see the origin_verify listener rule).
data "aws_ec2_managed_prefix_list" "cloudfront" {
  name = "com.amazonaws.global.cloudfront.origin-facing"
}

resource "random_password" "origin_verify" {
  length  = 48
  special = false
}

################################################################################
# Security group: HTTPS in (the one internet-facing rule), the gateway port out
################################################################################

resource "aws_security_group" "this" {
  name        = "${var.name}-alb"
  description = "Public ALB of the gateway"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-alb" })
}

resource "aws_vpc_security_group_ingress_rule" "https_from_cloudfront" {
  count = var.allow_direct_internet_ingress ? 0 : 1

  security_group_id = aws_security_group.this.id
  description       = "HTTPS from CloudFront origin-facing addresses"
  prefix_list_id    = data.aws_ec2_managed_prefix_list.cloudfront.id
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443

  tags = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "http_from_cloudfront" {
  #checkov:skip=CKV_AWS_260:The source is CloudFront's managed prefix list, not 0.0.0.0/0; the port-80 listener only redirects to HTTPS.
  count = var.allow_direct_internet_ingress ? 0 : 1

  security_group_id = aws_security_group.this.id
  description       = "HTTP from CloudFront, answered only with a redirect to HTTPS"
  prefix_list_id    = data.aws_ec2_managed_prefix_list.cloudfront.id
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80

  tags = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "https_from_internet" {
  count = var.allow_direct_internet_ingress ? 1 : 0

  security_group_id = aws_security_group.this.id
  description       = "HTTPS from anywhere (only while CloudFront is not in front)"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443

  tags = var.tags
}

resource "aws_vpc_security_group_egress_rule" "to_gateway" {
  security_group_id            = aws_security_group.this.id
  description                  = "To the gateway tasks"
  referenced_security_group_id = var.app_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = var.target_port
  to_port                      = var.target_port

  tags = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "gateway_from_alb" {
  security_group_id            = var.app_security_group_id
  description                  = "Gateway port from the ALB"
  referenced_security_group_id = aws_security_group.this.id
  ip_protocol                  = "tcp"
  from_port                    = var.target_port
  to_port                      = var.target_port

  tags = var.tags
}

################################################################################
# Certificate
################################################################################

resource "aws_acm_certificate" "this" {
  domain_name       = var.origin_domain_name
  validation_method = "DNS"

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "certificate_validation" {
  for_each = {
    for option in aws_acm_certificate.this.domain_validation_options : option.domain_name => option
  }

  zone_id         = var.route53_zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  ttl             = 300
  records         = [each.value.resource_record_value]
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "this" {
  certificate_arn         = aws_acm_certificate.this.arn
  validation_record_fqdns = [for record in aws_route53_record.certificate_validation : record.fqdn]
}

# CloudFront reaches the ALB by this name, which must match the certificate.
resource "aws_route53_record" "origin" {
  zone_id = var.route53_zone_id
  name    = var.origin_domain_name
  type    = "A"

  alias {
    name                   = aws_lb.this.dns_name
    zone_id                = aws_lb.this.zone_id
    evaluate_target_health = true
  }
}

################################################################################
# Load balancer
################################################################################

resource "aws_lb" "this" {
  #checkov:skip=CKV2_AWS_76:The web ACL comes from the waf module, whose rules include AWSManagedRulesKnownBadInputsRuleSet (Log4j); checkov cannot follow it through the variable.
  name               = "${var.name}-alb"
  load_balancer_type = "application"
  internal           = false
  subnets            = var.public_subnet_ids
  security_groups    = [aws_security_group.this.id]

  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
  desync_mitigation_mode     = "strictest"
  idle_timeout               = 120 # WebSocket connections idle between notifications

  access_logs {
    bucket  = var.access_logs_bucket
    prefix  = "alb"
    enabled = true
  }

  tags = var.tags
}

resource "aws_lb_target_group" "gateway" {
  #checkov:skip=CKV_AWS_378:TLS ends at the ALB; ALB to task traffic stays inside private subnets, where the only listener is the gateway on 8080.
  name                 = "${var.name}-gateway"
  port                 = var.target_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  # Liveness, not readiness: /readyz fails when any upstream service is down, and ECS replaces targets
  # the ALB reports unhealthy, so one failing service would churn every gateway task.
  health_check {
    path                = "/healthz"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  # WebSocket clients stick to the task holding their connection state across reconnects.
  stickiness {
    type            = "lb_cookie"
    enabled         = true
    cookie_duration = 3600
  }

  tags = var.tags
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = aws_acm_certificate_validation.this.certificate_arn

  # Behind CloudFront, anything that did not come through it (no secret header) is refused.
  dynamic "default_action" {
    for_each = var.allow_direct_internet_ingress ? [] : [1]
    content {
      type = "fixed-response"
      fixed_response {
        content_type = "application/problem+json"
        message_body = jsonencode({ type = "about:blank", title = "Forbidden", status = 403 })
        status_code  = "403"
      }
    }
  }

  # Without CloudFront in front, clients reach the gateway directly.
  dynamic "default_action" {
    for_each = var.allow_direct_internet_ingress ? [1] : []
    content {
      type             = "forward"
      target_group_arn = aws_lb_target_group.gateway.arn
    }
  }

  tags = var.tags
}

resource "aws_lb_listener_rule" "origin_verify" {
  count = var.allow_direct_internet_ingress ? 0 : 1

  listener_arn = aws_lb_listener.https.arn
  priority     = 10

  condition {
    http_header {
      http_header_name = var.origin_verify_header_name
      values           = [random_password.origin_verify.result]
    }
  }

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.gateway.arn
  }

  tags = var.tags
}

resource "aws_lb_listener" "http_redirect" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }

  tags = var.tags
}

resource "aws_wafv2_web_acl_association" "this" {
  resource_arn = aws_lb.this.arn
  web_acl_arn  = var.web_acl_arn
}
