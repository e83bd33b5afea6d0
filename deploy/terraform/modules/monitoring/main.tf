# CloudWatch alarms and the cost budget of one environment. Prometheus (deploy/monitoring) watches the farm's own
# metrics; these watch what AWS sees: the load balancer, the coordinator's instance, the database, the logs' errors
# and the bill. Every alarm and the budget notify the same SNS topic.

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = var.kms_key_arn
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alarm_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

locals {
  actions = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "coordinator_unhealthy" {
  alarm_name          = "${var.name}-coordinator-unhealthy"
  alarm_description   = "The load balancer has no healthy coordinator (runbook: FarmCoordinatorDown)"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HealthyHostCount"
  dimensions          = { LoadBalancer = var.load_balancer_arn_suffix, TargetGroup = var.target_group_arn_suffix }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}

resource "aws_cloudwatch_metric_alarm" "api_errors" {
  alarm_name          = "${var.name}-api-5xx"
  alarm_description   = "The API answered with server errors"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_Target_5XX_Count"
  dimensions          = { LoadBalancer = var.load_balancer_arn_suffix, TargetGroup = var.target_group_arn_suffix }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = 10
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
}

resource "aws_cloudwatch_metric_alarm" "coordinator_instance" {
  alarm_name          = "${var.name}-coordinator-status-check"
  alarm_description   = "The coordinator's instance fails its status checks"
  namespace           = "AWS/EC2"
  metric_name         = "StatusCheckFailed"
  dimensions          = { InstanceId = var.coordinator_instance_id }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  alarm_actions       = local.actions
}

resource "aws_cloudwatch_metric_alarm" "database_cpu" {
  alarm_name          = "${var.name}-database-cpu"
  alarm_description   = "The database is CPU-bound (runbook: FarmStoreWriteBacklog)"
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  dimensions          = { DBInstanceIdentifier = var.database_instance_id }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 85
  alarm_actions       = local.actions
}

resource "aws_cloudwatch_metric_alarm" "database_storage" {
  alarm_name          = "${var.name}-database-storage"
  alarm_description   = "The database has under 5 GiB of storage left"
  namespace           = "AWS/RDS"
  metric_name         = "FreeStorageSpace"
  dimensions          = { DBInstanceIdentifier = var.database_instance_id }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "LessThanThreshold"
  threshold           = 5 * 1024 * 1024 * 1024
  alarm_actions       = local.actions
}

# The coordinator's JSON log lines: errors, and agents lost, counted into metrics the alarms watch.
resource "aws_cloudwatch_log_metric_filter" "coordinator_errors" {
  name           = "${var.name}-coordinator-errors"
  log_group_name = var.coordinator_log_group
  pattern        = "{ $.level = \"error\" || $.level = \"critical\" }"
  metric_transformation {
    name      = "CoordinatorErrors"
    namespace = "ManimFarm/${var.name}"
    value     = "1"
    unit      = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "coordinator_errors" {
  alarm_name          = "${var.name}-coordinator-errors"
  alarm_description   = "The coordinator logs errors (search its log group for level error)"
  namespace           = "ManimFarm/${var.name}"
  metric_name         = "CoordinatorErrors"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 5
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
}

resource "aws_cloudwatch_log_metric_filter" "agents_lost" {
  name           = "${var.name}-agents-lost"
  log_group_name = var.coordinator_log_group
  pattern        = "{ $.message = \"agent lost\" }"
  metric_transformation {
    name      = "AgentsLost"
    namespace = "ManimFarm/${var.name}"
    value     = "1"
    unit      = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "agents_lost" {
  alarm_name          = "${var.name}-agents-lost"
  alarm_description   = "Three or more agents went silent within 15 minutes (runbook: FarmAgentsLost)"
  namespace           = "ManimFarm/${var.name}"
  metric_name         = "AgentsLost"
  statistic           = "Sum"
  period              = 900
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
}

# What the environment costs: warn at 80% of the month's budget spent and when the forecast passes it.
resource "aws_budgets_budget" "monthly" {
  name         = "${var.name}-monthly"
  budget_type  = "COST"
  limit_amount = tostring(var.monthly_budget_usd)
  limit_unit   = "USD"
  time_unit    = "MONTHLY"
  cost_filter {
    name   = "TagKeyValue"
    values = ["user:Project$manimfarm"]
  }
  notification {
    comparison_operator       = "GREATER_THAN"
    threshold                 = 80
    threshold_type            = "PERCENTAGE"
    notification_type         = "ACTUAL"
    subscriber_sns_topic_arns = [aws_sns_topic.alarms.arn]
  }
  notification {
    comparison_operator       = "GREATER_THAN"
    threshold                 = 100
    threshold_type            = "PERCENTAGE"
    notification_type         = "FORECASTED"
    subscriber_sns_topic_arns = [aws_sns_topic.alarms.arn]
  }
}

# AWS Budgets publishes to the topic only if its policy lets it.
resource "aws_sns_topic_policy" "alarms" {
  arn = aws_sns_topic.alarms.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "CloudWatchAndBudgets"
        Effect    = "Allow"
        Principal = { Service = ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"] }
        Action    = "SNS:Publish"
        Resource  = aws_sns_topic.alarms.arn
      },
    ]
  })
}
