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

output "coordinator_instance_id" {
  value = aws_instance.coordinator.id
}

output "api_load_balancer_arn_suffix" {
  value = aws_lb.api.arn_suffix
}

output "coordinator_target_group_arn_suffix" {
  value = aws_lb_target_group.coordinator.arn_suffix
}

output "log_groups" {
  value = { coordinator = aws_cloudwatch_log_group.coordinator.name, agents = aws_cloudwatch_log_group.agents.name }
}
