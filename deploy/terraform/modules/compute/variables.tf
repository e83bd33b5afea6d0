variable "name" {
  description = "Prefix of every resource name"
  type        = string
}

variable "vpc_id" {
  description = "VPC of the farm"
  type        = string
}

variable "public_subnet_ids" {
  description = "Subnets of the load balancer"
  type        = list(string)
}

variable "private_subnet_ids" {
  description = "Subnets of the coordinator and agents"
  type        = list(string)
}

variable "security_groups" {
  description = "Security group ids from the networking module"
  type        = object({ alb = string, coordinator = string, agents = string, database = string })
}

variable "kms_key_arn" {
  description = "KMS key for volumes"
  type        = string
}

variable "bucket_arn" {
  description = "Render bucket"
  type        = string
}

variable "renders_bucket" {
  description = "Render bucket's name: videos are published under published/, attempts upload under staging/"
  type        = string
}

variable "cdn_domain" {
  description = "The CloudFront domain whose origin is the bucket's published/ prefix; status prints URLs under it"
  type        = string
}

variable "logs_bucket" {
  description = "Bucket for load balancer access logs"
  type        = string
}

variable "database_endpoint" {
  description = "PostgreSQL host"
  type        = string
}

variable "database_secret_arn" {
  description = "Secrets Manager secret holding the database password"
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate of the API's domain"
  type        = string
}

variable "regional_web_acl_arn" {
  description = "WAF web ACL (scope REGIONAL) for the load balancer"
  type        = string
}

variable "coordinator_image" {
  description = "Container image of the coordinator (Dockerfile.coordinator), pinned by digest"
  type        = string
}

variable "agent_image" {
  description = "Container image of the agent (Dockerfile.agent), pinned by digest"
  type        = string
}

variable "coordinator_instance_type" {
  description = "Coordinator instance type"
  type        = string
  default     = "c7i.large"
}

variable "agent_instance_types" {
  description = "Instance types agents may run on (spot pools)"
  type        = list(string)
  default     = ["c7i.xlarge", "c6i.xlarge", "c7a.xlarge"]
}

variable "agent_slots" {
  description = "Renders per agent"
  type        = number
  default     = 2
}

variable "agent_drain_seconds" {
  description = "How long a terminating agent may finish its renders"
  type        = number
  default     = 300
}

variable "min_agents" {
  description = "Fewest agents"
  type        = number
  default     = 0
}

variable "max_agents" {
  description = "Most agents"
  type        = number
  default     = 50
}

variable "on_demand_agents" {
  description = "Agents kept on on-demand capacity; the rest run on spot"
  type        = number
  default     = 0
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the coordinator's and agents' logs"
  type        = number
  default     = 365
  validation {
    condition     = contains([365, 400, 545, 731, 1827, 3653], var.log_retention_days)
    error_message = "Keep logs at least a year (a CloudWatch retention value of 365 days or more)."
  }
}

variable "generation_model" {
  description = "Gemini model that writes scripts from prompts (POST /v1/generations); empty keeps generation off. The key goes into the <name>-gemini-api-key secret"
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{0,100}$", var.generation_model))
    error_message = "A model name such as gemini-2.5-flash, or empty."
  }
}
