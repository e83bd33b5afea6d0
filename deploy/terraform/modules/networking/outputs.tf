output "vpc_id" {
  value = aws_vpc.this.id
}

output "public_subnet_ids" {
  value = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  value = aws_subnet.private[*].id
}

output "security_groups" {
  value = {
    alb         = aws_security_group.alb.id
    coordinator = aws_security_group.coordinator.id
    agents      = aws_security_group.agents.id
    database    = aws_security_group.database.id
  }
}
