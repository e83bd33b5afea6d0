# One whole farm: storage, networking, database and compute wired together. Environments (envs/*)
# differ only in the values they pass here.


module "storage" {
  source      = "../storage"
  name        = var.name
  web_acl_arn = var.cdn_web_acl_arn
}

module "networking" {
  source            = "../networking"
  name              = var.name
  kms_key_arn       = module.storage.kms_key_arn
  api_allowed_cidrs = var.api_allowed_cidrs
}

module "database" {
  source                = "../database"
  name                  = var.name
  subnet_ids            = module.networking.private_subnet_ids
  security_group_id     = module.networking.security_groups.database
  kms_key_arn           = module.storage.kms_key_arn
  multi_az              = var.database_multi_az
  deletion_protection   = var.database_deletion_protection
  backup_retention_days = var.database_backup_retention_days
}

module "compute" {
  source               = "../compute"
  name                 = var.name
  vpc_id               = module.networking.vpc_id
  public_subnet_ids    = module.networking.public_subnet_ids
  private_subnet_ids   = module.networking.private_subnet_ids
  security_groups      = module.networking.security_groups
  kms_key_arn          = module.storage.kms_key_arn
  bucket_arn           = module.storage.bucket_arn
  logs_bucket          = module.storage.logs_bucket
  database_endpoint    = module.database.endpoint
  database_secret_arn  = module.database.master_secret_arn
  certificate_arn      = var.certificate_arn
  regional_web_acl_arn = var.api_web_acl_arn
  coordinator_image    = var.coordinator_image
  agent_image          = var.agent_image
  max_agents           = var.max_agents
}

variable "name" {
  description = "Prefix of every resource name, for example manimfarm-prod"
  type        = string
}

variable "database_multi_az" {
  description = "Standby database replica in a second zone"
  type        = bool
}

variable "database_deletion_protection" {
  description = "Refuse to delete the database"
  type        = bool
}

variable "database_backup_retention_days" {
  description = "Days of automated database backups"
  type        = number
}

variable "max_agents" {
  description = "Most agents the group may run"
  type        = number
}

variable "certificate_arn" {
  description = "ACM certificate of the API's domain"
  type        = string
}

variable "api_web_acl_arn" {
  description = "WAF web ACL (REGIONAL) for the API load balancer"
  type        = string
}

variable "cdn_web_acl_arn" {
  description = "WAF web ACL (CLOUDFRONT) for published videos"
  type        = string
}

variable "api_allowed_cidrs" {
  description = "Who may reach the API"
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "coordinator_image" {
  description = "Coordinator image, pinned by digest (set by the deploy workflow)"
  type        = string
}

variable "agent_image" {
  description = "Agent image, pinned by digest (set by the deploy workflow)"
  type        = string
}

output "api_endpoint" {
  value = "https://${module.compute.api_dns_name}"
}

output "cdn_domain" {
  value = module.storage.cdn_domain
}

output "database_endpoint" {
  value = module.database.endpoint
}

output "agent_group" {
  value = module.compute.agent_group_name
}
