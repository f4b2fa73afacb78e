locals {
  serverless     = var.capacity_mode == "serverless"
  instance_class = local.serverless ? "db.serverless" : var.provisioned_instance_class

  # Instance 0 is created as the writer; the others are readers in the remaining AZs.
  instances = { for index in range(var.reader_count + 1) : tostring(index) => {
    availability_zone = var.availability_zones[index % length(var.availability_zones)]
    promotion_tier    = index == 0 ? 0 : 1
  } }
}

resource "aws_db_subnet_group" "this" {
  name        = var.name
  description = "Isolated data subnets of ${var.name}"
  subnet_ids  = var.subnet_ids

  tags = var.tags
}

resource "aws_rds_cluster_parameter_group" "this" {
  name        = "${var.name}-${replace(var.parameter_group_family, ".", "-")}"
  family      = var.parameter_group_family
  description = "TLS only, statement and connection logging for ${var.name}"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_connections"
    value = "1"
  }

  parameter {
    name  = "log_disconnections"
    value = "1"
  }

  # DDL is logged (who changed which schema); DML is left to the application's audit trail.
  parameter {
    name  = "log_statement"
    value = "ddl"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = tostring(var.slow_query_log_ms)
  }

  parameter {
    name         = "shared_preload_libraries"
    value        = "pg_stat_statements"
    apply_method = "pending-reboot"
  }

  tags = var.tags
}

resource "aws_db_parameter_group" "this" {
  name        = "${var.name}-instance-${replace(var.parameter_group_family, ".", "-")}"
  family      = var.parameter_group_family
  description = "Instance parameters of ${var.name}"

  parameter {
    name  = "log_lock_waits"
    value = "1"
  }

  tags = var.tags
}

resource "aws_rds_cluster" "this" {
  #checkov:skip=CKV2_AWS_8:The AWS Backup plan (daily, copied to the DR region) is in the backup module, which selects this cluster by ARN.
  cluster_identifier = var.name
  engine             = "aurora-postgresql"
  engine_mode        = "provisioned"
  engine_version     = var.engine_version
  database_name      = var.database_name

  master_username = "dynasty_admin"
  # The master password is generated, stored and rotated by RDS in Secrets Manager; it never enters state.
  manage_master_user_password   = true
  master_user_secret_kms_key_id = var.secrets_kms_key_arn

  iam_database_authentication_enabled = true
  enable_http_endpoint                = true

  db_subnet_group_name            = aws_db_subnet_group.this.name
  vpc_security_group_ids          = [var.security_group_id]
  db_cluster_parameter_group_name = aws_rds_cluster_parameter_group.this.name
  port                            = 5432

  storage_encrypted = true
  kms_key_id        = var.database_kms_key_arn

  backup_retention_period      = var.backup_retention_days
  preferred_backup_window      = "03:00-04:00"
  preferred_maintenance_window = "sun:04:30-sun:05:30"
  copy_tags_to_snapshot        = true
  deletion_protection          = var.deletion_protection
  skip_final_snapshot          = false
  final_snapshot_identifier    = "${var.name}-final"

  enabled_cloudwatch_logs_exports = ["postgresql"]

  dynamic "serverlessv2_scaling_configuration" {
    for_each = local.serverless ? [1] : []
    content {
      min_capacity = var.serverless_min_acu
      max_capacity = var.serverless_max_acu
    }
  }

  tags = var.tags
}

data "aws_iam_policy_document" "monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "monitoring" {
  name               = "${var.name}-enhanced-monitoring"
  assume_role_policy = data.aws_iam_policy_document.monitoring_assume.json

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "monitoring" {
  role       = aws_iam_role.monitoring.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_rds_cluster_instance" "this" {
  for_each = local.instances

  identifier              = "${var.name}-${each.key}"
  cluster_identifier      = aws_rds_cluster.this.id
  engine                  = aws_rds_cluster.this.engine
  engine_version          = aws_rds_cluster.this.engine_version
  instance_class          = local.instance_class
  availability_zone       = each.value.availability_zone
  promotion_tier          = each.value.promotion_tier
  db_parameter_group_name = aws_db_parameter_group.this.name
  publicly_accessible     = false

  performance_insights_enabled          = true
  performance_insights_kms_key_id       = var.database_kms_key_arn
  performance_insights_retention_period = var.performance_insights_retention_days

  monitoring_interval = 30
  monitoring_role_arn = aws_iam_role.monitoring.arn

  auto_minor_version_upgrade = true
  ca_cert_identifier         = "rds-ca-rsa2048-g1"
  copy_tags_to_snapshot      = true

  tags = var.tags
}

################################################################################
# Reader auto-scaling on CPU, beyond the readers created above
################################################################################

resource "aws_appautoscaling_target" "readers" {
  service_namespace  = "rds"
  scalable_dimension = "rds:cluster:ReadReplicaCount"
  resource_id        = "cluster:${aws_rds_cluster.this.id}"
  min_capacity       = var.reader_count
  max_capacity       = var.reader_max_count

  tags = var.tags

  depends_on = [aws_rds_cluster_instance.this]
}

resource "aws_appautoscaling_policy" "readers_cpu" {
  name               = "${var.name}-readers-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.readers.service_namespace
  scalable_dimension = aws_appautoscaling_target.readers.scalable_dimension
  resource_id        = aws_appautoscaling_target.readers.resource_id

  target_tracking_scaling_policy_configuration {
    predefined_metric_specification {
      predefined_metric_type = "RDSReaderAverageCPUUtilization"
    }
    target_value       = var.reader_target_cpu_percent
    scale_in_cooldown  = 600
    scale_out_cooldown = 120
  }
}

################################################################################
# One login role per service: secrets to hold their DATABASE_URL, and the SQL that creates them
################################################################################

resource "aws_secretsmanager_secret" "service_database_url" {
  #checkov:skip=CKV2_AWS_57:Service role passwords are set and rotated by infra/scripts/bootstrap-db-roles.sh, which runs the role SQL and puts the URL in one step.
  for_each = toset(var.service_schemas)

  name                    = "${var.name}/db/${each.key}"
  description             = "DATABASE_URL of the ${each.key} service: its own login role, rights on schema ${each.key} only"
  kms_key_id              = var.secrets_kms_key_arn
  recovery_window_in_days = 30

  tags = var.tags
}
