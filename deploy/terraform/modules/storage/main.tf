# Object storage for renders: a versioned, KMS-encrypted bucket; temporary render artifacts expire;
# published videos are served through CloudFront (the bucket itself stays private).

data "aws_caller_identity" "current" {}

resource "aws_kms_key" "this" {
  description             = "${var.name} data at rest"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "Account"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "Logs"
        Effect    = "Allow"
        Principal = { Service = "logs.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
      },
      {
        Sid       = "CloudFront"
        Effect    = "Allow"
        Principal = { Service = "cloudfront.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
      },
    ]
  })
}

resource "aws_s3_bucket" "logs" {
  bucket = "${var.name}-access-logs"
  #checkov:skip=CKV_AWS_18:This is the access-log bucket itself; logging it to itself would loop.
  #checkov:skip=CKV_AWS_144:Access logs are not replicated across regions; losing them loses no render.
  #checkov:skip=CKV2_AWS_62:Nothing consumes events from the log bucket.
  #checkov:skip=CKV_AWS_145:S3 log delivery writes with SSE-S3 only; SSE-KMS is not supported for the target bucket.
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    id     = "expire-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = 365
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_s3_bucket" "renders" {
  bucket = "${var.name}-renders"
  #checkov:skip=CKV_AWS_144:Renders can be re-rendered from their scripts; cross-region replication is not worth its cost.
  #checkov:skip=CKV2_AWS_62:Nothing consumes bucket events; the coordinator knows what it writes.
}

resource "aws_s3_bucket_logging" "renders" {
  bucket        = aws_s3_bucket.renders.id
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = "s3/renders/"
}

resource "aws_s3_bucket_versioning" "renders" {
  bucket = aws_s3_bucket.renders.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "renders" {
  bucket = aws_s3_bucket.renders.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "renders" {
  bucket                  = aws_s3_bucket.renders.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "renders" {
  bucket = aws_s3_bucket.renders.id
  rule {
    id     = "expire-temporary-render-artifacts"
    status = "Enabled"
    filter {
      prefix = "staging/"
    }
    expiration {
      days = var.staging_expiry_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
  rule {
    id     = "nightly-backups"
    status = "Enabled"
    filter {
      prefix = "backups/"
    }
    expiration {
      days = 35
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
  }
  rule {
    id     = "old-versions-of-published-videos"
    status = "Enabled"
    filter {
      prefix = "published/"
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_cloudfront_origin_access_control" "renders" {
  name                              = "${var.name}-renders"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_distribution" "published" {
  enabled         = true
  comment         = "${var.name} published videos"
  is_ipv6_enabled = true
  web_acl_id      = var.web_acl_arn
  #checkov:skip=CKV_AWS_310:One origin; a failover origin would be a second copy of every video.
  #checkov:skip=CKV_AWS_374:Explainer videos are published worldwide; no geo restriction is wanted.
  #checkov:skip=CKV2_AWS_47:The WAF web ACL is passed in per environment (web_acl_arn); its rules are managed there.
  #checkov:skip=CKV2_AWS_42:A custom domain and certificate are per-deployment; the default CloudFront certificate serves HTTPS.
  #checkov:skip=CKV2_AWS_32:HLS players need no response-headers policy beyond CloudFront's defaults.
  #checkov:skip=CKV_AWS_305:Videos live at /<id>/master.m3u8; there is no index document to serve at the root.
  #checkov:skip=CKV_AWS_174:The default CloudFront certificate ignores minimum_protocol_version; set a custom domain's certificate to enforce TLS 1.2.
  origin {
    domain_name              = aws_s3_bucket.renders.bucket_regional_domain_name
    origin_id                = "renders"
    origin_path              = "/published"
    origin_access_control_id = aws_cloudfront_origin_access_control.renders.id
  }
  default_cache_behavior {
    target_origin_id       = "renders"
    viewer_protocol_policy = "redirect-to-https"
    allowed_methods        = ["GET", "HEAD"]
    cached_methods         = ["GET", "HEAD"]
    compress               = true
    forwarded_values {
      query_string = false
      cookies {
        forward = "none"
      }
    }
  }
  logging_config {
    bucket = aws_s3_bucket.logs.bucket_domain_name
    prefix = "cloudfront/"
  }
  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }
  viewer_certificate {
    cloudfront_default_certificate = true
    minimum_protocol_version       = "TLSv1.2_2021"
  }
}

resource "aws_s3_bucket_policy" "renders" {
  bucket = aws_s3_bucket.renders.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "CloudFrontReadsPublished"
        Effect    = "Allow"
        Principal = { Service = "cloudfront.amazonaws.com" }
        Action    = "s3:GetObject"
        Resource  = "${aws_s3_bucket.renders.arn}/published/*"
        Condition = { StringEquals = { "AWS:SourceArn" = aws_cloudfront_distribution.published.arn } }
      },
      {
        Sid       = "TLSOnly"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.renders.arn, "${aws_s3_bucket.renders.arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })
}
