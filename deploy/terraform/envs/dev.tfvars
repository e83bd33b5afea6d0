environment                    = "dev"
database_multi_az              = false
database_deletion_protection   = false
database_backup_retention_days = 3
max_agents                     = 4
monthly_budget_usd             = 200
