environment                    = "prod"
database_multi_az              = true
database_deletion_protection   = true
database_backup_retention_days = 14
max_agents                     = 50
monthly_budget_usd             = 3000
