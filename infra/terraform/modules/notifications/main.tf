data "aws_caller_identity" "current" {}

################################################################################
# SES: the sending domain, DKIM, and bounce/complaint feedback to SNS
################################################################################

resource "aws_sesv2_email_identity" "this" {
  email_identity         = var.email_domain
  configuration_set_name = aws_sesv2_configuration_set.this.configuration_set_name

  dkim_signing_attributes {
    next_signing_key_length = "RSA_2048_BIT"
  }

  tags = var.tags
}

resource "aws_sesv2_email_identity_mail_from_attributes" "this" {
  email_identity         = aws_sesv2_email_identity.this.email_identity
  mail_from_domain       = "mail.${var.email_domain}"
  behavior_on_mx_failure = "REJECT_MESSAGE"
}

resource "aws_sesv2_configuration_set" "this" {
  configuration_set_name = "${var.name}-transactional"

  delivery_options {
    tls_policy = "REQUIRE"
  }

  reputation_options {
    reputation_metrics_enabled = true
  }

  sending_options {
    sending_enabled = true
  }

  suppression_options {
    suppressed_reasons = ["BOUNCE", "COMPLAINT"]
  }

  tags = var.tags
}

resource "aws_sesv2_configuration_set_event_destination" "feedback" {
  configuration_set_name = aws_sesv2_configuration_set.this.configuration_set_name
  event_destination_name = "bounces-and-complaints"

  event_destination {
    enabled              = true
    matching_event_types = ["BOUNCE", "COMPLAINT", "REJECT", "RENDERING_FAILURE"]

    sns_destination {
      topic_arn = aws_sns_topic.email_feedback.arn
    }
  }
}

resource "aws_route53_record" "dkim" {
  count = 3

  zone_id = var.route53_zone_id
  name    = "${aws_sesv2_email_identity.this.dkim_signing_attributes[0].tokens[count.index]}._domainkey.${var.email_domain}"
  type    = "CNAME"
  ttl     = 1800
  records = ["${aws_sesv2_email_identity.this.dkim_signing_attributes[0].tokens[count.index]}.dkim.amazonses.com"]
}

resource "aws_route53_record" "mail_from_mx" {
  zone_id = var.route53_zone_id
  name    = aws_sesv2_email_identity_mail_from_attributes.this.mail_from_domain
  type    = "MX"
  ttl     = 1800
  records = ["10 feedback-smtp.${var.region}.amazonses.com"]
}

resource "aws_route53_record" "mail_from_spf" {
  zone_id = var.route53_zone_id
  name    = aws_sesv2_email_identity_mail_from_attributes.this.mail_from_domain
  type    = "TXT"
  ttl     = 1800
  records = ["v=spf1 include:amazonses.com -all"]
}

resource "aws_route53_record" "dmarc" {
  zone_id = var.route53_zone_id
  name    = "_dmarc.${var.email_domain}"
  type    = "TXT"
  ttl     = 1800
  records = ["v=DMARC1; p=quarantine; rua=mailto:${var.dmarc_report_address}"]
}

################################################################################
# SNS: email feedback topic (identity unsubscribes bounced addresses) and SMS settings
################################################################################

resource "aws_sns_topic" "email_feedback" {
  name              = "${var.name}-email-feedback"
  kms_master_key_id = var.kms_key_arn

  tags = var.tags
}

data "aws_iam_policy_document" "email_feedback" {
  statement {
    sid       = "SesPublishesFeedback"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.email_feedback.arn]
    principals {
      type        = "Service"
      identifiers = ["ses.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "email_feedback" {
  arn    = aws_sns_topic.email_feedback.arn
  policy = data.aws_iam_policy_document.email_feedback.json
}

# Account-wide SMS settings: transactional routing for MFA codes and a hard monthly spend cap.
resource "aws_sns_sms_preferences" "this" {
  default_sms_type                      = "Transactional"
  default_sender_id                     = var.sms_sender_id
  monthly_spend_limit                   = var.sms_monthly_spend_limit_usd
  delivery_status_success_sampling_rate = "10"
}
