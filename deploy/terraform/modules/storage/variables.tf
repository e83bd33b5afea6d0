variable "name" {
  description = "Prefix of every resource name"
  type        = string
}

variable "staging_expiry_days" {
  description = "Days after which temporary render artifacts (staging/) are deleted"
  type        = number
  default     = 7
}

variable "web_acl_arn" {
  description = "WAF web ACL (scope CLOUDFRONT) in front of published videos"
  type        = string
}
