output "vpc_id" {
  description = "Id of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "IPv4 range of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "availability_zones" {
  description = "Availability zones the tiers are spread over."
  value       = local.azs
}

output "public_subnet_ids" {
  description = "Public subnets (ALB, NAT gateways)."
  value       = aws_subnet.public[*].id
}

output "private_app_subnet_ids" {
  description = "Private subnets of the Fargate tasks."
  value       = aws_subnet.private_app[*].id
}

output "isolated_data_subnet_ids" {
  description = "Isolated subnets of Aurora and ElastiCache (no route out of the VPC)."
  value       = aws_subnet.isolated_data[*].id
}

output "app_security_group_id" {
  description = "Security group of every Fargate task."
  value       = aws_security_group.app.id
}

output "data_security_group_id" {
  description = "Security group of Aurora and ElastiCache."
  value       = aws_security_group.data.id
}

output "nat_gateway_public_ips" {
  description = "Egress addresses to allow-list at Stripe and YourPropFirm."
  value       = aws_eip.nat[*].public_ip
}
