data "aws_region" "current" {}

locals {
  azs               = var.availability_zones
  nat_gateway_count = var.single_nat_gateway ? 1 : length(local.azs)

  # A /16 is cut into /20s: public 0-2, private-app 4-6, isolated-data 8-10; the gaps leave room for a fourth AZ.
  public_cidrs        = [for index, _ in local.azs : cidrsubnet(var.cidr_block, 4, index)]
  private_app_cidrs   = [for index, _ in local.azs : cidrsubnet(var.cidr_block, 4, index + 4)]
  isolated_data_cidrs = [for index, _ in local.azs : cidrsubnet(var.cidr_block, 4, index + 8)]

  interface_endpoints = toset(["ecr.api", "ecr.dkr", "secretsmanager", "kms", "logs", "sts"])
}

################################################################################
# VPC
################################################################################

resource "aws_vpc" "this" {
  cidr_block           = var.cidr_block
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = merge(var.tags, { Name = var.name })
}

# The default security group is left with no rules, so nothing can use it by accident.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-default-unused" })
}

resource "aws_cloudwatch_log_group" "flow_logs" {
  name              = "/aws/vpc/${var.name}/flow-logs"
  retention_in_days = var.flow_log_retention_in_days
  kms_key_id        = var.logs_kms_key_arn

  tags = var.tags
}

data "aws_iam_policy_document" "flow_logs_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "flow_logs" {
  name               = "${var.name}-vpc-flow-logs"
  assume_role_policy = data.aws_iam_policy_document.flow_logs_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "flow_logs_write" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.flow_logs.arn}:*"]
  }
}

resource "aws_iam_role_policy" "flow_logs" {
  name   = "write-flow-logs"
  role   = aws_iam_role.flow_logs.id
  policy = data.aws_iam_policy_document.flow_logs_write.json
}

resource "aws_flow_log" "this" {
  vpc_id                   = aws_vpc.this.id
  traffic_type             = "ALL"
  log_destination_type     = "cloud-watch-logs"
  log_destination          = aws_cloudwatch_log_group.flow_logs.arn
  iam_role_arn             = aws_iam_role.flow_logs.arn
  max_aggregation_interval = 600

  tags = var.tags
}

################################################################################
# Subnets: public (ALB, NAT), private-app (Fargate tasks), isolated-data (Aurora, ElastiCache; no route out)
################################################################################

resource "aws_subnet" "public" {
  count = length(local.azs)

  vpc_id                  = aws_vpc.this.id
  availability_zone       = local.azs[count.index]
  cidr_block              = local.public_cidrs[count.index]
  map_public_ip_on_launch = false

  tags = merge(var.tags, { Name = "${var.name}-public-${local.azs[count.index]}", Tier = "public" })
}

resource "aws_subnet" "private_app" {
  count = length(local.azs)

  vpc_id            = aws_vpc.this.id
  availability_zone = local.azs[count.index]
  cidr_block        = local.private_app_cidrs[count.index]

  tags = merge(var.tags, { Name = "${var.name}-private-app-${local.azs[count.index]}", Tier = "private-app" })
}

resource "aws_subnet" "isolated_data" {
  count = length(local.azs)

  vpc_id            = aws_vpc.this.id
  availability_zone = local.azs[count.index]
  cidr_block        = local.isolated_data_cidrs[count.index]

  tags = merge(var.tags, { Name = "${var.name}-isolated-data-${local.azs[count.index]}", Tier = "isolated-data" })
}

################################################################################
# Routing
################################################################################

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = var.name })
}

resource "aws_eip" "nat" {
  count = local.nat_gateway_count

  domain = "vpc"

  tags = merge(var.tags, { Name = "${var.name}-nat-${local.azs[count.index]}" })
}

resource "aws_nat_gateway" "this" {
  count = local.nat_gateway_count

  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id

  tags = merge(var.tags, { Name = "${var.name}-nat-${local.azs[count.index]}" })

  depends_on = [aws_internet_gateway.this]
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_route" "public_internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

resource "aws_route_table_association" "public" {
  count = length(local.azs)

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

# One table per AZ even with a single NAT gateway, so switching the cost lever only changes routes.
resource "aws_route_table" "private_app" {
  count = length(local.azs)

  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-private-app-${local.azs[count.index]}" })
}

resource "aws_route" "private_app_nat" {
  count = length(local.azs)

  route_table_id         = aws_route_table.private_app[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[var.single_nat_gateway ? 0 : count.index].id
}

resource "aws_route_table_association" "private_app" {
  count = length(local.azs)

  subnet_id      = aws_subnet.private_app[count.index].id
  route_table_id = aws_route_table.private_app[count.index].id
}

# The data tier has no default route at all: only the VPC's local route and the S3 gateway endpoint.
resource "aws_route_table" "isolated_data" {
  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-isolated-data" })
}

resource "aws_route_table_association" "isolated_data" {
  count = length(local.azs)

  subnet_id      = aws_subnet.isolated_data[count.index].id
  route_table_id = aws_route_table.isolated_data.id
}

################################################################################
# Network ACLs: a coarse, stateless second line behind the security groups
################################################################################

resource "aws_network_acl" "public" {
  vpc_id     = aws_vpc.this.id
  subnet_ids = aws_subnet.public[*].id

  tags = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_network_acl_rule" "public_in_https" {
  network_acl_id = aws_network_acl.public.id
  rule_number    = 100
  egress         = false
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = "0.0.0.0/0"
  from_port      = 443
  to_port        = 443
}

resource "aws_network_acl_rule" "public_in_http" {
  network_acl_id = aws_network_acl.public.id
  rule_number    = 110
  egress         = false
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = "0.0.0.0/0"
  from_port      = 80
  to_port        = 80
}

resource "aws_network_acl_rule" "public_in_ephemeral" {
  #checkov:skip=CKV_AWS_231:NACLs are stateless; replies to NAT and ALB connections arrive on 1024-65535. Security groups, which are stateful, admit no RDP.
  network_acl_id = aws_network_acl.public.id
  rule_number    = 120
  egress         = false
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = "0.0.0.0/0"
  from_port      = 1024
  to_port        = 65535
}

resource "aws_network_acl_rule" "public_out_all" {
  network_acl_id = aws_network_acl.public.id
  rule_number    = 100
  egress         = true
  protocol       = "-1"
  rule_action    = "allow"
  cidr_block     = "0.0.0.0/0"
}

resource "aws_network_acl" "private_app" {
  vpc_id     = aws_vpc.this.id
  subnet_ids = aws_subnet.private_app[*].id

  tags = merge(var.tags, { Name = "${var.name}-private-app" })
}

# From inside the VPC: the ALB to the gateway, the mesh between services, tasks to the interface endpoints.
resource "aws_network_acl_rule" "private_app_in_vpc" {
  for_each = {
    gateway   = { from = var.gateway_port, to = var.gateway_port, rule = 100 }
    mesh      = { from = var.mesh_port_range.from, to = var.mesh_port_range.to, rule = 101 }
    endpoints = { from = 443, to = 443, rule = 102 }
  }

  network_acl_id = aws_network_acl.private_app.id
  rule_number    = each.value.rule
  egress         = false
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = var.cidr_block
  from_port      = each.value.from
  to_port        = each.value.to
}

resource "aws_network_acl_rule" "private_app_in_ephemeral" {
  #checkov:skip=CKV_AWS_231:NACLs are stateless; replies from Stripe and YourPropFirm through the NAT arrive on 1024-65535. The subnets have no public addresses.
  network_acl_id = aws_network_acl.private_app.id
  rule_number    = 110
  egress         = false
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = "0.0.0.0/0"
  from_port      = 1024
  to_port        = 65535
}

resource "aws_network_acl_rule" "private_app_out_all" {
  network_acl_id = aws_network_acl.private_app.id
  rule_number    = 100
  egress         = true
  protocol       = "-1"
  rule_action    = "allow"
  cidr_block     = "0.0.0.0/0"
}

resource "aws_network_acl" "isolated_data" {
  vpc_id     = aws_vpc.this.id
  subnet_ids = aws_subnet.isolated_data[*].id

  tags = merge(var.tags, { Name = "${var.name}-isolated-data" })
}

# Only the app tier may open connections into the data tier, and only to PostgreSQL and Redis.
resource "aws_network_acl_rule" "isolated_data_in" {
  for_each = {
    for pair in setproduct(range(length(local.azs)), var.data_ports) :
    "${pair[0]}-${pair[1]}" => { cidr = local.private_app_cidrs[pair[0]], port = pair[1], index = pair[0] }
  }

  network_acl_id = aws_network_acl.isolated_data.id
  rule_number    = 100 + each.value.index * 10 + index(var.data_ports, each.value.port)
  egress         = false
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = each.value.cidr
  from_port      = each.value.port
  to_port        = each.value.port
}

# ElastiCache replicas replicate from their primary across data subnets (Aurora's storage replication is not VPC traffic).
resource "aws_network_acl_rule" "isolated_data_in_data_tier" {
  for_each = {
    for pair in setproduct(range(length(local.azs)), var.data_ports) :
    "${pair[0]}-${pair[1]}" => { cidr = local.isolated_data_cidrs[pair[0]], port = pair[1], index = pair[0] }
  }

  network_acl_id = aws_network_acl.isolated_data.id
  rule_number    = 200 + each.value.index * 10 + index(var.data_ports, each.value.port)
  egress         = false
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = each.value.cidr
  from_port      = each.value.port
  to_port        = each.value.port
}

# NACLs are stateless: replies to connections the data tier opens itself (replica to primary) come back
# on ephemeral ports, from the data subnets only.
resource "aws_network_acl_rule" "isolated_data_in_replies" {
  count = length(local.azs)

  network_acl_id = aws_network_acl.isolated_data.id
  rule_number    = 300 + count.index
  egress         = false
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = local.isolated_data_cidrs[count.index]
  from_port      = 1024
  to_port        = 65535
}

resource "aws_network_acl_rule" "isolated_data_out_vpc" {
  network_acl_id = aws_network_acl.isolated_data.id
  rule_number    = 100
  egress         = true
  protocol       = "-1"
  rule_action    = "allow"
  cidr_block     = var.cidr_block
}

################################################################################
# Security groups owned here because several modules reference them
################################################################################

resource "aws_security_group" "app" {
  #checkov:skip=CKV2_AWS_5:Attached by the ecs module to every Fargate service; created here so Aurora and ElastiCache can reference it.
  name        = "${var.name}-app"
  description = "Fargate tasks of the gateway and the gRPC services"
  vpc_id      = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-app" })
}

resource "aws_vpc_security_group_ingress_rule" "app_mesh" {
  security_group_id            = aws_security_group.app.id
  description                  = "Service Connect mesh: gRPC between the services and the gateway"
  referenced_security_group_id = aws_security_group.app.id
  ip_protocol                  = "tcp"
  from_port                    = var.mesh_port_range.from
  to_port                      = var.mesh_port_range.to

  tags = var.tags
}

resource "aws_vpc_security_group_egress_rule" "app_https" {
  security_group_id = aws_security_group.app.id
  description       = "HTTPS to Stripe, YourPropFirm and AWS APIs (through NAT or VPC endpoints)"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443

  tags = var.tags
}

resource "aws_vpc_security_group_egress_rule" "app_mesh" {
  security_group_id            = aws_security_group.app.id
  description                  = "Service Connect mesh: gRPC to the other services"
  referenced_security_group_id = aws_security_group.app.id
  ip_protocol                  = "tcp"
  from_port                    = var.mesh_port_range.from
  to_port                      = var.mesh_port_range.to

  tags = var.tags
}

resource "aws_vpc_security_group_egress_rule" "app_data" {
  for_each = toset([for port in var.data_ports : tostring(port)])

  security_group_id = aws_security_group.app.id
  description       = "To the data tier on port ${each.key}"
  cidr_ipv4         = var.cidr_block
  ip_protocol       = "tcp"
  from_port         = tonumber(each.key)
  to_port           = tonumber(each.key)

  tags = var.tags
}

resource "aws_security_group" "data" {
  #checkov:skip=CKV2_AWS_5:Attached by the aurora and elasticache modules; created here so the app group can reference it.
  name        = "${var.name}-data"
  description = "Aurora and ElastiCache: reachable from the app tasks only"
  vpc_id      = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-data" })
}

resource "aws_vpc_security_group_ingress_rule" "data_from_app" {
  for_each = toset([for port in var.data_ports : tostring(port)])

  security_group_id            = aws_security_group.data.id
  description                  = "From the app tasks on port ${each.key}"
  referenced_security_group_id = aws_security_group.app.id
  ip_protocol                  = "tcp"
  from_port                    = tonumber(each.key)
  to_port                      = tonumber(each.key)

  tags = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "data_replication" {
  for_each = toset([for port in var.data_ports : tostring(port)])

  security_group_id            = aws_security_group.data.id
  description                  = "Replication inside the data tier on port ${each.key}"
  referenced_security_group_id = aws_security_group.data.id
  ip_protocol                  = "tcp"
  from_port                    = tonumber(each.key)
  to_port                      = tonumber(each.key)

  tags = var.tags
}

resource "aws_vpc_security_group_egress_rule" "data_replication" {
  for_each = toset([for port in var.data_ports : tostring(port)])

  security_group_id            = aws_security_group.data.id
  description                  = "Replication inside the data tier on port ${each.key}"
  referenced_security_group_id = aws_security_group.data.id
  ip_protocol                  = "tcp"
  from_port                    = tonumber(each.key)
  to_port                      = tonumber(each.key)

  tags = var.tags
}

################################################################################
# VPC endpoints: AWS API traffic stays off the NAT gateways (cheaper, and no internet path)
################################################################################

resource "aws_security_group" "endpoints" {
  name        = "${var.name}-vpc-endpoints"
  description = "Interface VPC endpoints: HTTPS from inside the VPC"
  vpc_id      = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-vpc-endpoints" })
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_https" {
  security_group_id = aws_security_group.endpoints.id
  description       = "HTTPS from the VPC"
  cidr_ipv4         = var.cidr_block
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443

  tags = var.tags
}

resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${data.aws_region.current.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = concat(aws_route_table.private_app[*].id, [aws_route_table.isolated_data.id])

  tags = merge(var.tags, { Name = "${var.name}-s3" })
}

resource "aws_vpc_endpoint" "interface" {
  for_each = local.interface_endpoints

  vpc_id              = aws_vpc.this.id
  service_name        = "com.amazonaws.${data.aws_region.current.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = aws_subnet.private_app[*].id
  security_group_ids  = [aws_security_group.endpoints.id]

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })
}
