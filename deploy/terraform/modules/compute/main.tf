# The coordinator behind a TLS load balancer, and the agents' auto-scaling group. The coordinator steers the
# group's desired capacity from its queue (farm-coordinator --autoscaling-group); instances are protected from
# the group's own scale-in, so only idle agents are ever terminated, and a lifecycle hook gives a terminating
# agent its drain time (the agent drains on SIGTERM).

data "aws_region" "current" {}

data "aws_ssm_parameter" "ami" {
  name = "/aws/service/debian/release/12/latest/amd64"
}

locals {
  agent_group_name = "${var.name}-agents"
}

# --- Roles -------------------------------------------------------------------------------------------------

resource "aws_iam_role" "coordinator" {
  name = "${var.name}-coordinator"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "ec2.amazonaws.com" } }]
  })
}

resource "aws_iam_role_policy" "coordinator" {
  role = aws_iam_role.coordinator.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "SteerAgents"
        Effect   = "Allow"
        Action   = ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup", "autoscaling:CompleteLifecycleAction"]
        Resource = aws_autoscaling_group.agents.arn
      },
      {
        Sid      = "DescribeAgents"
        Effect   = "Allow"
        Action   = ["autoscaling:DescribeAutoScalingGroups"]
        Resource = "*"
      },
      {
        Sid      = "Secrets"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue"]
        Resource = [var.database_secret_arn, aws_secretsmanager_secret.coordinator_curve.arn, aws_secretsmanager_secret.gemini_api_key.arn]
      },
      {
        Sid      = "Renders"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "s3:AbortMultipartUpload"]
        Resource = [var.bucket_arn, "${var.bucket_arn}/*"]
      },
      {
        Sid      = "Logs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
        Resource = ["${aws_cloudwatch_log_group.coordinator.arn}:*"]
      },
      {
        Sid      = "Encryption"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = var.kms_key_arn
      },
    ]
  })
}

resource "aws_iam_role_policy_attachment" "coordinator_ssm" {
  role       = aws_iam_role.coordinator.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "coordinator" {
  name = "${var.name}-coordinator"
  role = aws_iam_role.coordinator.name
}

resource "aws_iam_role" "agent" {
  name = "${var.name}-agent"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "ec2.amazonaws.com" } }]
  })
}

# Agents read only their CurveZMQ key (and the coordinator's public key); renders inside them reach nothing:
# the sandbox has no network, and the metadata service's hop limit of 1 stops the agent's container too.
resource "aws_iam_role_policy" "agent" {
  role = aws_iam_role.agent.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "AgentKey"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue"]
        Resource = aws_secretsmanager_secret.agent_curve.arn
      },
      {
        Sid      = "Logs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
        Resource = ["${aws_cloudwatch_log_group.agents.arn}:*"]
      },
      {
        Sid      = "Encryption"
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = var.kms_key_arn
      },
    ]
  })
}

# --- CurveZMQ keys ---------------------------------------------------------------------------------------------
# Filled once from `farm-coordinator fleet-keys` (docs/runbook.md § Deploy): the coordinator's secret key with the
# admitted agent key, and the agents' shared secret key with the coordinator's public key they pin.

resource "aws_secretsmanager_secret" "coordinator_curve" {
  name       = "${var.name}-coordinator-curve"
  kms_key_id = var.kms_key_arn
  #checkov:skip=CKV2_AWS_57:A CurveZMQ key pair is rotated by re-keying coordinator and agents together (runbook), not by a rotation Lambda.
}

resource "aws_secretsmanager_secret" "agent_curve" {
  name       = "${var.name}-agent-curve"
  kms_key_id = var.kms_key_arn
  #checkov:skip=CKV2_AWS_57:A CurveZMQ key pair is rotated by re-keying coordinator and agents together (runbook), not by a rotation Lambda.
}

# --- Script generation ------------------------------------------------------------------------------------------
# The Gemini API key, put in by an operator (docs/runbook.md § Rotate credentials). The coordinator's instance copies
# it into a file every 15 minutes; the coordinator reads that file at every call, so a new key takes effect within 15.

resource "aws_secretsmanager_secret" "gemini_api_key" {
  name       = "${var.name}-gemini-api-key"
  kms_key_id = var.kms_key_arn
  #checkov:skip=CKV2_AWS_57:The key is issued by Google AI Studio, not by a rotation Lambda; a new version is picked up within 15 minutes.
}

resource "aws_iam_role_policy_attachment" "agent_ssm" {
  role       = aws_iam_role.agent.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "agent" {
  name = "${var.name}-agent"
  role = aws_iam_role.agent.name
}

# --- Coordinator ---------------------------------------------------------------------------------------------

resource "aws_instance" "coordinator" {
  ami                    = data.aws_ssm_parameter.ami.value
  instance_type          = var.coordinator_instance_type
  subnet_id              = var.private_subnet_ids[0]
  vpc_security_group_ids = [var.security_groups.coordinator]
  iam_instance_profile   = aws_iam_instance_profile.coordinator.name
  ebs_optimized          = true
  monitoring             = true
  user_data = templatefile("${path.module}/coordinator-cloud-init.yaml.tftpl", {
    image               = var.coordinator_image
    database_host       = var.database_endpoint
    database_secret_arn = var.database_secret_arn
    curve_secret_arn    = aws_secretsmanager_secret.coordinator_curve.arn
    gemini_secret_arn   = aws_secretsmanager_secret.gemini_api_key.arn
    generation_model    = var.generation_model
    region              = data.aws_region.current.name
    agent_group         = local.agent_group_name
    max_agents          = var.max_agents
    renders_bucket      = var.renders_bucket
    cdn_domain          = var.cdn_domain
    log_group           = aws_cloudwatch_log_group.coordinator.name
  })
  metadata_options {
    http_endpoint = "enabled"
    http_tokens   = "required"
    # The coordinator runs in a container: one more hop to reach the instance role's credentials.
    http_put_response_hop_limit = 2
  }
  root_block_device {
    encrypted   = true
    kms_key_id  = var.kms_key_arn
    volume_size = 100
  }
  tags = { Name = "${var.name}-coordinator" }
  # Blue/green: a new coordinator (new image) boots while the old one still serves. It waits as a hot standby
  # on the PostgreSQL leader lock and takes over, adopting running renders, when the old one is destroyed.
  lifecycle {
    create_before_destroy = true
  }
}

# Agents dial the coordinator by name, so a replaced coordinator keeps its address; ZeroMQ re-resolves on reconnect.
resource "aws_route53_zone" "internal" {
  name = "${var.name}.internal"
  vpc {
    vpc_id = var.vpc_id
  }
  #checkov:skip=CKV2_AWS_38:DNSSEC signing does not apply to private hosted zones.
  #checkov:skip=CKV2_AWS_39:Query logging is not available for private hosted zones through this resource; VPC flow logs cover the traffic.
}

resource "aws_route53_record" "coordinator" {
  zone_id = aws_route53_zone.internal.zone_id
  name    = "coordinator.${var.name}.internal"
  type    = "A"
  ttl     = 10
  records = [aws_instance.coordinator.private_ip]
}

resource "aws_lb" "api" {
  name                       = "${var.name}-api"
  load_balancer_type         = "application"
  subnets                    = var.public_subnet_ids
  security_groups            = [var.security_groups.alb]
  drop_invalid_header_fields = true
  enable_deletion_protection = true
  #checkov:skip=CKV2_AWS_28:The WAF association is per environment (aws_wafv2_web_acl_association below when web_acl_arn is set).
  #checkov:skip=CKV2_AWS_20:Port 80 has no listener at all, so there is nothing to redirect.
  #checkov:skip=CKV2_AWS_76:The WAF web ACL is managed outside this module (regional_web_acl_arn); include AWSManagedRulesKnownBadInputsRuleSet there.
  access_logs {
    bucket  = var.logs_bucket
    prefix  = "alb"
    enabled = true
  }
}

resource "aws_wafv2_web_acl_association" "api" {
  resource_arn = aws_lb.api.arn
  web_acl_arn  = var.regional_web_acl_arn
}

resource "aws_lb_target_group" "coordinator" {
  name     = "${var.name}-coordinator"
  port     = 8080
  protocol = "HTTP"
  vpc_id   = var.vpc_id
  #checkov:skip=CKV_AWS_378:TLS ends at the load balancer; the hop to the coordinator stays inside the private subnet.
  health_check {
    path     = "/healthz"
    matcher  = "200"
    interval = 10
  }
}

resource "aws_lb_target_group_attachment" "coordinator" {
  target_group_arn = aws_lb_target_group.coordinator.arn
  target_id        = aws_instance.coordinator.id
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.api.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.coordinator.arn
  }
}

# --- Agents --------------------------------------------------------------------------------------------------

resource "aws_launch_template" "agent" {
  name_prefix   = "${var.name}-agent-"
  image_id      = data.aws_ssm_parameter.ami.value
  instance_type = var.agent_instance_types[0]
  ebs_optimized = true
  iam_instance_profile {
    name = aws_iam_instance_profile.agent.name
  }
  vpc_security_group_ids = [var.security_groups.agents]
  user_data = base64encode(templatefile("${path.module}/agent-cloud-init.yaml.tftpl", {
    image            = var.agent_image
    coordinator_host = aws_route53_record.coordinator.fqdn
    curve_secret_arn = aws_secretsmanager_secret.agent_curve.arn
    region           = data.aws_region.current.name
    slots            = var.agent_slots
    drain_seconds    = var.agent_drain_seconds
    log_group        = aws_cloudwatch_log_group.agents.name
  }))
  metadata_options {
    http_endpoint = "enabled"
    http_tokens   = "required"
  }
  monitoring {
    enabled = true
  }
  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      encrypted   = true
      kms_key_id  = var.kms_key_arn
      volume_size = 60
    }
  }
}

resource "aws_autoscaling_group" "agents" {
  name                  = local.agent_group_name
  min_size              = var.min_agents
  max_size              = var.max_agents
  vpc_zone_identifier   = var.private_subnet_ids
  protect_from_scale_in = true
  capacity_rebalance    = true
  # The coordinator owns the desired capacity; Terraform only sets bounds.
  lifecycle {
    ignore_changes = [desired_capacity]
  }
  mixed_instances_policy {
    instances_distribution {
      on_demand_base_capacity                  = var.on_demand_agents
      on_demand_percentage_above_base_capacity = 0
      spot_allocation_strategy                 = "price-capacity-optimized"
    }
    launch_template {
      launch_template_specification {
        launch_template_id = aws_launch_template.agent.id
        version            = "$Latest"
      }
      dynamic "override" {
        for_each = var.agent_instance_types
        content {
          instance_type = override.value
        }
      }
    }
  }
  initial_lifecycle_hook {
    name                 = "drain"
    lifecycle_transition = "autoscaling:EC2_INSTANCE_TERMINATING"
    # Enough for the agent's drain grace plus its last uploads.
    heartbeat_timeout = var.agent_drain_seconds + 60
    default_result    = "CONTINUE"
  }
  tag {
    key                 = "Name"
    value               = "${var.name}-agent"
    propagate_at_launch = true
  }
}

# --- Logs ------------------------------------------------------------------------------------------------------
# The containers write JSON lines (--log-format json) through Docker's awslogs driver: one group per role, one
# stream per instance, searchable with CloudWatch Logs Insights by video, task, attempt and agent.

resource "aws_cloudwatch_log_group" "coordinator" {
  name              = "/manimfarm/${var.name}/coordinator"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_cloudwatch_log_group" "agents" {
  name              = "/manimfarm/${var.name}/agents"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}
