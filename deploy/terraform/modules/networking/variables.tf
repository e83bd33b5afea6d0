variable "name" {
  description = "Prefix of every resource name, for example manimfarm-prod"
  type        = string
}

variable "cidr_block" {
  description = "The VPC's address range"
  type        = string
  default     = "10.40.0.0/16"
}

variable "api_allowed_cidrs" {
  description = "Who may reach the HTTPS API"
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the flow logs"
  type        = string
}
