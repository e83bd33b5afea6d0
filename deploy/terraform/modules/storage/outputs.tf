output "bucket" {
  value = aws_s3_bucket.renders.bucket
}

output "bucket_arn" {
  value = aws_s3_bucket.renders.arn
}

output "logs_bucket" {
  value = aws_s3_bucket.logs.bucket
}

output "kms_key_arn" {
  value = aws_kms_key.this.arn
}

output "cdn_domain" {
  value = aws_cloudfront_distribution.published.domain_name
}
