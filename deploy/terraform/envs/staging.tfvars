environment                    = "staging"
database_multi_az              = false
database_deletion_protection   = true
database_backup_retention_days = 7
max_agents                     = 10
monthly_budget_usd             = 500
