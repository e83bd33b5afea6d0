variable "name" {
  description = "Prefix of every resource name"
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the database"
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group admitting the coordinator"
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for storage, Performance Insights and the master secret"
  type        = string
}

variable "instance_class" {
  description = "RDS instance class"
  type        = string
  default     = "db.t4g.medium"
}

variable "storage_gb" {
  description = "Initial storage; grows up to four times this"
  type        = number
  default     = 50
}

variable "multi_az" {
  description = "Standby replica in a second zone"
  type        = bool
  default     = true
}

variable "backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery window)"
  type        = number
  default     = 14
}

variable "deletion_protection" {
  description = "Refuse to delete the database"
  type        = bool
  default     = true
}
