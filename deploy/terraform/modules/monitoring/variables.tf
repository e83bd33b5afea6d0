variable "name" {
  description = "Prefix of every resource name"
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of the alarm topic"
  type        = string
}

variable "alarm_email" {
  description = "Who gets the alarms by email; empty: subscribe the topic elsewhere (PagerDuty, Slack)"
  type        = string
  default     = ""
}

variable "monthly_budget_usd" {
  description = "The environment's monthly cost budget in US dollars"
  type        = number
}

variable "load_balancer_arn_suffix" {
  description = "The API load balancer (CloudWatch dimension)"
  type        = string
}

variable "target_group_arn_suffix" {
  description = "The coordinator's target group (CloudWatch dimension)"
  type        = string
}

variable "coordinator_instance_id" {
  description = "The coordinator's EC2 instance"
  type        = string
}

variable "database_instance_id" {
  description = "The RDS instance identifier"
  type        = string
}

variable "coordinator_log_group" {
  description = "CloudWatch log group of the coordinator's JSON logs"
  type        = string
}
