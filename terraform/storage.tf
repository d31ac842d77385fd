################################################################################
# Artifacts bucket (published models)
################################################################################

resource "aws_s3_bucket" "artifacts" {
  #checkov:skip=CKV_AWS_18:Server access logs would need a second bucket; the bucket holds only model artifacts, written by the trainer, whose versions are kept
  #checkov:skip=CKV_AWS_144:Models can be retrained from the data set; cross-region replication is not worth doubling storage
  #checkov:skip=CKV2_AWS_62:Nothing reacts to new objects; services read triage/LATEST when they start
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES-256) is enough for model weights built from a public data set; no customer-managed KMS key
  bucket        = local.bucket_name
  force_destroy = var.force_destroy
}

resource "aws_s3_bucket_versioning" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  rule {
    id     = "tidy"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }

    # Old versions of overwritten objects (LATEST, mostly) are only kept for rollback.
    noncurrent_version_expiration {
      noncurrent_days = 90
    }
  }

  depends_on = [aws_s3_bucket_versioning.artifacts]
}

# A deny on every action is the only wildcard in this stack: it can only take access away.
data "aws_iam_policy_document" "artifacts_bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.artifacts.arn,
      "${aws_s3_bucket.artifacts.arn}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  policy = data.aws_iam_policy_document.artifacts_bucket.json

  depends_on = [aws_s3_bucket_public_access_block.artifacts]
}

################################################################################
# Database
################################################################################

resource "aws_db_subnet_group" "this" {
  name       = local.name
  subnet_ids = aws_subnet.private[*].id
}

# Force TLS from clients and log slow statements and connections.
resource "aws_db_parameter_group" "this" {
  name   = "${local.name}-postgres${split(".", var.db_engine_version)[0]}"
  family = "postgres${split(".", var.db_engine_version)[0]}"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }

  parameter {
    name  = "log_connections"
    value = "1"
  }

  parameter {
    name  = "log_statement"
    value = "ddl"
  }
}

resource "aws_db_instance" "this" {
  #checkov:skip=CKV_AWS_161:The services authenticate with the password RDS keeps in Secrets Manager; IAM database tokens would need changes in both services
  #checkov:skip=CKV_AWS_293:Off by default so `make destroy` works; turn on with db_deletion_protection in production
  #checkov:skip=CKV_AWS_354:Performance Insights uses the AWS-managed RDS key; no customer-managed KMS key in this stack
  identifier = local.name

  engine                     = "postgres"
  engine_version             = var.db_engine_version
  instance_class             = var.db_instance_class
  allocated_storage          = var.db_allocated_storage
  max_allocated_storage      = var.db_max_allocated_storage
  storage_type               = "gp3"
  storage_encrypted          = true
  auto_minor_version_upgrade = true

  db_name  = local.db_name
  username = local.db_user
  # RDS creates the password and keeps it in Secrets Manager; it never enters terraform state.
  manage_master_user_password = true

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [aws_security_group.db.id]
  parameter_group_name   = aws_db_parameter_group.this.name
  publicly_accessible    = false
  multi_az               = var.db_multi_az

  backup_retention_period   = var.db_backup_retention_days
  copy_tags_to_snapshot     = true
  deletion_protection       = var.db_deletion_protection
  skip_final_snapshot       = var.db_skip_final_snapshot
  final_snapshot_identifier = var.db_skip_final_snapshot ? null : "${local.name}-final"

  enabled_cloudwatch_logs_exports       = ["postgresql", "upgrade"]
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.rds_monitoring.arn
  performance_insights_enabled          = true
  performance_insights_retention_period = 7

  depends_on = [aws_iam_role_policy_attachment.rds_monitoring]
}

################################################################################
# Secrets
################################################################################

# Private key that signs access tokens; `make deploy` generates and stores it once.
resource "aws_secretsmanager_secret" "signing_key" {
  #checkov:skip=CKV_AWS_149:Encrypted with the Secrets Manager service key; no customer-managed KMS key in this stack
  #checkov:skip=CKV2_AWS_57:Rotating the signing key logs everybody out; rotated by hand (documentation/deployment.md, Secrets)
  name                    = "${local.name}/users-signing-key"
  description             = "PEM private key the user service signs access tokens with"
  recovery_window_in_days = 0
}

# Keys that sign the services' session cookies and CSRF tokens: every task of a service must
# share them, or a form rendered by one task fails when posted to another. JSON with the keys
# inference_secret_key and users_secret_key; `make deploy` generates them once.
resource "aws_secretsmanager_secret" "app_keys" {
  #checkov:skip=CKV_AWS_149:Encrypted with the Secrets Manager service key; no customer-managed KMS key in this stack
  #checkov:skip=CKV2_AWS_57:Rotating these keys only invalidates open forms and sessions; rotate by deleting the value and running make deploy
  name                    = "${local.name}/app-keys"
  description             = "Session and CSRF signing keys of the two services (JSON)"
  recovery_window_in_days = 0
}
