output "api_dns_name" {
  value = aws_lb.api.dns_name
}

output "coordinator_private_ip" {
  value = aws_instance.coordinator.private_ip
}

output "coordinator_internal_name" {
  value = aws_route53_record.coordinator.fqdn
}

output "agent_group_name" {
  value = aws_autoscaling_group.agents.name
}
