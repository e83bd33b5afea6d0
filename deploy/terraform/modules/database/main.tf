# Managed PostgreSQL: encrypted, backed up, Multi-AZ in production. The master password is generated and
# kept by RDS in Secrets Manager; it never appears in this repository or in Terraform state.

resource "aws_db_subnet_group" "this" {
  name       = "${var.name}-db"
  subnet_ids = var.subnet_ids
}

resource "aws_db_parameter_group" "this" {
  name   = "${var.name}-postgres15"
  family = "postgres15"
  parameter {
    name  = "log_min_duration_statement"
    value = "500"
  }
  parameter {
    name  = "log_connections"
    value = "1"
  }
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
}

resource "aws_iam_role" "monitoring" {
  name = "${var.name}-rds-monitoring"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "monitoring.rds.amazonaws.com" } }]
  })
}

resource "aws_iam_role_policy_attachment" "monitoring" {
  role       = aws_iam_role.monitoring.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_db_instance" "this" {
  identifier                            = "${var.name}-db"
  engine                                = "postgres"
  engine_version                        = "15"
  instance_class                        = var.instance_class
  allocated_storage                     = var.storage_gb
  max_allocated_storage                 = var.storage_gb * 4
  db_name                               = "manimfarm"
  username                              = "farm"
  manage_master_user_password           = true
  master_user_secret_kms_key_id         = var.kms_key_arn
  iam_database_authentication_enabled   = true
  db_subnet_group_name                  = aws_db_subnet_group.this.name
  parameter_group_name                  = aws_db_parameter_group.this.name
  vpc_security_group_ids                = [var.security_group_id]
  storage_encrypted                     = true
  kms_key_id                            = var.kms_key_arn
  multi_az                              = var.multi_az
  backup_retention_period               = var.backup_retention_days
  backup_window                         = "03:00-04:00"
  copy_tags_to_snapshot                 = true
  deletion_protection                   = var.deletion_protection
  skip_final_snapshot                   = false
  final_snapshot_identifier             = "${var.name}-db-final"
  auto_minor_version_upgrade            = true
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = var.kms_key_arn
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.monitoring.arn
  enabled_cloudwatch_logs_exports       = ["postgresql", "upgrade"]
  publicly_accessible                   = false
  apply_immediately                     = false
  #checkov:skip=CKV_AWS_157:Multi-AZ is a per-environment variable: on in prod, off in dev to halve its cost.
  #checkov:skip=CKV_AWS_293:Deletion protection is a per-environment variable: on in staging and prod.
}
