data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  region     = data.aws_region.current.region
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  image      = "${var.image_repository_url}@${var.image_digest}"

  grpc_services = { for name, service in var.services : name => service if service.protocol == "grpc" }

  # Every task finds the gRPC services by their Service Connect names.
  mesh_environment = merge(
    { for name, service in local.grpc_services : "DYNASTY_${upper(name)}_TARGET" => "${name}:${service.port}" },
    {
      DYNASTY_GRPC_HOST    = "0.0.0.0"
      DYNASTY_GATEWAY_HOST = "0.0.0.0"
      DYNASTY_ENVIRONMENT  = var.environment
      AWS_REGION           = local.region
      # Aurora refuses plain connections (rds.force_ssl); libpq (psycopg) and asyncpg both read this.
      PGSSLMODE = "require"
    },
  )

  # The migration task of a service runs the same image with the service's own database credentials.
  migration_services = { for name, service in var.services : name => service if service.migrations }
}

################################################################################
# Cluster and Service Connect namespace
################################################################################

resource "aws_cloudwatch_log_group" "exec" {
  name              = "/aws/ecs/${var.name}/exec"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.logs_kms_key_arn

  tags = var.tags
}

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enhanced"
  }

  configuration {
    execute_command_configuration {
      kms_key_id = var.logs_kms_key_arn
      logging    = "OVERRIDE"

      log_configuration {
        cloud_watch_encryption_enabled = true
        cloud_watch_log_group_name     = aws_cloudwatch_log_group.exec.name
      }
    }
  }

  service_connect_defaults {
    namespace = aws_service_discovery_http_namespace.this.arn
  }

  tags = var.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    base              = 1
    weight            = 1
  }
}

resource "aws_service_discovery_http_namespace" "this" {
  name        = var.name
  description = "Service Connect namespace of the gRPC mesh of ${var.name}"

  tags = var.tags
}

################################################################################
# Logs and IAM, one set per service
################################################################################

resource "aws_cloudwatch_log_group" "service" {
  for_each = var.services

  name              = "/ecs/${var.name}/${each.key}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.logs_kms_key_arn

  tags = merge(var.tags, { Service = each.key })
}

resource "aws_cloudwatch_log_group" "migrations" {
  name              = "/ecs/${var.name}/migrations"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.logs_kms_key_arn

  tags = var.tags
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# The execution role is what ECS itself uses to start a task: pull the image, write logs,
# read exactly the secrets the task definition injects.
resource "aws_iam_role" "execution" {
  for_each = var.services

  name               = "${var.name}-${each.key}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json

  tags = merge(var.tags, { Service = each.key })
}

data "aws_iam_policy_document" "execution" {
  for_each = var.services

  statement {
    sid       = "PullImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = [var.image_repository_arn]
  }

  statement {
    #checkov:skip=CKV_AWS_356:ecr:GetAuthorizationToken has no resource-level permissions; it only returns a registry login.
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.service[each.key].arn}:*", "${aws_cloudwatch_log_group.migrations.arn}:*"]
  }

  statement {
    sid       = "ReadInjectedSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = values(each.value.secrets)
  }

  statement {
    sid       = "DecryptInjectedSecrets"
    actions   = ["kms:Decrypt"]
    resources = [var.secrets_kms_key_arn]
  }
}

resource "aws_iam_role_policy" "execution" {
  for_each = var.services

  name   = "start-task"
  role   = aws_iam_role.execution[each.key].id
  policy = data.aws_iam_policy_document.execution[each.key].json
}

# The task role is what the service's own code may do: nothing beyond its buckets, its
# envelope-encryption key, email and SMS where it sends them, and its own metrics.
resource "aws_iam_role" "task" {
  for_each = var.services

  name               = "${var.name}-${each.key}-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json

  tags = merge(var.tags, { Service = each.key })
}

data "aws_iam_policy_document" "task" {
  for_each = var.services

  statement {
    #checkov:skip=CKV_AWS_356:cloudwatch:PutMetricData has no resource-level permissions; the namespace condition limits it to our metrics.
    sid       = "PublishOwnMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [var.metrics_namespace]
    }
  }

  dynamic "statement" {
    for_each = length(each.value.s3_bucket_arns) > 0 ? [1] : []
    content {
      sid       = "OwnObjects"
      actions   = ["s3:GetObject", "s3:PutObject", "s3:GetObjectVersion"]
      resources = [for arn in each.value.s3_bucket_arns : "${arn}/*"]
    }
  }

  dynamic "statement" {
    for_each = length(each.value.s3_bucket_arns) > 0 ? [1] : []
    content {
      sid       = "ListOwnBuckets"
      actions   = ["s3:ListBucket"]
      resources = each.value.s3_bucket_arns
    }
  }

  dynamic "statement" {
    for_each = length(each.value.kms_key_arns) > 0 ? [1] : []
    content {
      sid       = "EnvelopeEncryption"
      actions   = ["kms:GenerateDataKey", "kms:Encrypt", "kms:Decrypt", "kms:GenerateMac"]
      resources = each.value.kms_key_arns
    }
  }

  dynamic "statement" {
    for_each = each.value.send_email ? [1] : []
    content {
      sid       = "SendEmail"
      actions   = ["ses:SendEmail", "ses:SendRawEmail"]
      resources = [var.ses_identity_arn, "arn:${local.partition}:ses:${local.region}:${local.account_id}:configuration-set/${var.ses_configuration_set_name}"]
    }
  }

  dynamic "statement" {
    for_each = each.value.send_sms ? [1] : []
    content {
      #checkov:skip=CKV_AWS_356:sns:Publish to a phone number has no resource ARN; the deny below refuses publishing to any topic.
      sid       = "SendSms"
      actions   = ["sns:Publish"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = each.value.send_sms ? [1] : []
    content {
      sid       = "NoTopicPublishing"
      effect    = "Deny"
      actions   = ["sns:Publish"]
      resources = ["arn:${local.partition}:sns:*:*:*"]
    }
  }
}

resource "aws_iam_role_policy" "task" {
  for_each = var.services

  name   = "service"
  role   = aws_iam_role.task[each.key].id
  policy = data.aws_iam_policy_document.task[each.key].json
}

################################################################################
# Task definitions and services
################################################################################

resource "aws_ecs_task_definition" "service" {
  for_each = var.services

  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.execution[each.key].arn
  task_role_arn            = aws_iam_role.task[each.key].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # The root filesystem is read-only; this task-scoped volume is the only writable place.
  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([
    {
      name      = each.key
      image     = local.image
      essential = true
      command   = each.value.command
      user      = "10001:10001"

      portMappings = [
        {
          name          = each.key
          containerPort = each.value.port
          protocol      = "tcp"
          appProtocol   = each.value.protocol == "grpc" ? "grpc" : "http"
        },
      ]

      environment = [
        for key, value in merge(local.mesh_environment, each.value.environment, {
          DYNASTY_SERVICE_NAME = each.key
          HEALTHCHECK_PORT     = tostring(each.value.port)
          HEALTHCHECK_PROTOCOL = each.value.protocol
        }) : { name = key, value = value }
      ]

      secrets = [for key, arn in each.value.secrets : { name = key, valueFrom = arn }]

      readonlyRootFilesystem = true
      mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]

      linuxParameters = {
        initProcessEnabled = true
        capabilities       = { drop = ["ALL"] }
      }

      healthCheck = {
        command     = ["CMD", "python", "-m", "infra.docker.healthcheck"]
        interval    = 15
        timeout     = 5
        retries     = 3
        startPeriod = 30
      }

      stopTimeout = 30

      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.service[each.key].name
          awslogs-region        = local.region
          awslogs-stream-prefix = each.key
          mode                  = "non-blocking"
          max-buffer-size       = "4m"
        }
      }
    },
  ])

  tags = merge(var.tags, { Service = each.key })
}

resource "aws_ecs_service" "this" {
  for_each = var.services

  name                    = each.key
  cluster                 = aws_ecs_cluster.this.id
  task_definition         = aws_ecs_task_definition.service[each.key].arn
  desired_count           = each.value.min_count
  enable_execute_command  = false
  propagate_tags          = "SERVICE"
  enable_ecs_managed_tags = true

  capacity_provider_strategy {
    capacity_provider = "FARGATE"
    base              = each.value.min_count
    weight            = 100 - var.fargate_spot_weight_percent
  }

  dynamic "capacity_provider_strategy" {
    for_each = var.fargate_spot_weight_percent > 0 ? [1] : []
    content {
      capacity_provider = "FARGATE_SPOT"
      weight            = var.fargate_spot_weight_percent
    }
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [var.app_security_group_id]
    assign_public_ip = false
  }

  deployment_controller {
    type = "ECS"
  }

  # Rolling deployment that keeps full capacity, rolls back by itself when new tasks fail to
  # become healthy (circuit breaker) or when the service's alarms fire during the deployment.
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  dynamic "alarms" {
    for_each = length(lookup(var.deployment_alarm_names, each.key, [])) > 0 ? [1] : []
    content {
      enable      = true
      rollback    = true
      alarm_names = var.deployment_alarm_names[each.key]
    }
  }

  dynamic "load_balancer" {
    for_each = each.value.load_balanced ? [1] : []
    content {
      target_group_arn = var.target_group_arn
      container_name   = each.key
      container_port   = each.value.port
    }
  }

  health_check_grace_period_seconds = each.value.load_balanced ? 60 : null

  service_connect_configuration {
    enabled   = true
    namespace = aws_service_discovery_http_namespace.this.arn

    dynamic "service" {
      for_each = each.value.protocol == "grpc" ? [1] : []
      content {
        port_name      = each.key
        discovery_name = each.key

        client_alias {
          port     = each.value.port
          dns_name = each.key
        }
      }
    }

    log_configuration {
      log_driver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.service[each.key].name
        awslogs-region        = local.region
        awslogs-stream-prefix = "service-connect"
      }
    }
  }

  tags = merge(var.tags, { Service = each.key })

  depends_on = [aws_ecs_cluster_capacity_providers.this]

  lifecycle {
    # CD registers a new task definition revision per release (image by digest) and auto-scaling
    # owns the task count; Terraform owns everything else.
    ignore_changes = [task_definition, desired_count]
  }
}

################################################################################
# One-off migration tasks: `aws ecs run-task` before each deploy (expand), never as a service
################################################################################

resource "aws_ecs_task_definition" "migration" {
  for_each = local.migration_services

  family                   = "${var.name}-migrate-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 512
  memory                   = 1024
  execution_role_arn       = aws_iam_role.execution[each.key].arn
  task_role_arn            = aws_iam_role.task[each.key].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([
    {
      name      = "migrate"
      image     = local.image
      essential = true
      command   = ["python", "-m", "libs.platform.migrate", each.key]
      user      = "10001:10001"

      environment = [
        for key, value in merge(each.value.environment, { DYNASTY_SERVICE_NAME = each.key, PGSSLMODE = "require" }) :
        { name = key, value = value }
      ]
      secrets = [for key, arn in each.value.secrets : { name = key, valueFrom = arn } if key == "DATABASE_URL"]

      readonlyRootFilesystem = true
      mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]

      linuxParameters = {
        initProcessEnabled = true
        capabilities       = { drop = ["ALL"] }
      }

      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.migrations.name
          awslogs-region        = local.region
          awslogs-stream-prefix = each.key
        }
      }
    },
  ])

  tags = merge(var.tags, { Service = each.key, Purpose = "migrations" })
}

################################################################################
# Auto-scaling: CPU for every service, requests per task for the gateway (ALB) and the
# gRPC services (Service Connect)
################################################################################

resource "aws_appautoscaling_target" "this" {
  for_each = var.services

  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.this[each.key].name}"
  min_capacity       = each.value.min_count
  max_capacity       = each.value.max_count

  tags = merge(var.tags, { Service = each.key })
}

resource "aws_appautoscaling_policy" "cpu" {
  for_each = var.services

  name               = "${var.name}-${each.key}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[each.key].service_namespace
  scalable_dimension = aws_appautoscaling_target.this[each.key].scalable_dimension
  resource_id        = aws_appautoscaling_target.this[each.key].resource_id

  target_tracking_scaling_policy_configuration {
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
    target_value       = each.value.target_cpu_percent
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
  }
}

resource "aws_appautoscaling_policy" "alb_requests" {
  for_each = { for name, service in var.services : name => service if service.load_balanced }

  name               = "${var.name}-${each.key}-requests"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[each.key].service_namespace
  scalable_dimension = aws_appautoscaling_target.this[each.key].scalable_dimension
  resource_id        = aws_appautoscaling_target.this[each.key].resource_id

  target_tracking_scaling_policy_configuration {
    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${var.alb_arn_suffix}/${var.target_group_arn_suffix}"
    }
    target_value       = each.value.target_requests_per_task_minute
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
  }
}

# Service Connect publishes RequestCount per discovery name; divided by the running tasks it is
# the per-task request rate, the same signal the gateway scales on.
resource "aws_appautoscaling_policy" "mesh_requests" {
  for_each = local.grpc_services

  name               = "${var.name}-${each.key}-requests"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[each.key].service_namespace
  scalable_dimension = aws_appautoscaling_target.this[each.key].scalable_dimension
  resource_id        = aws_appautoscaling_target.this[each.key].resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = each.value.target_requests_per_task_minute
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    customized_metric_specification {
      metrics {
        id          = "requests"
        return_data = false
        metric_stat {
          stat = "Sum"
          metric {
            namespace   = "AWS/ECS"
            metric_name = "RequestCount"
            dimensions {
              name  = "ClusterName"
              value = aws_ecs_cluster.this.name
            }
            dimensions {
              name  = "ServiceName"
              value = each.key
            }
            dimensions {
              name  = "DiscoveryName"
              value = each.key
            }
          }
        }
      }

      metrics {
        id          = "tasks"
        return_data = false
        metric_stat {
          stat = "Average"
          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"
            dimensions {
              name  = "ClusterName"
              value = aws_ecs_cluster.this.name
            }
            dimensions {
              name  = "ServiceName"
              value = each.key
            }
          }
        }
      }

      metrics {
        id          = "requests_per_task"
        expression  = "requests / IF(tasks > 0, tasks, 1)"
        label       = "Requests per task per minute"
        return_data = true
      }
    }
  }
}
