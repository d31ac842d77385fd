provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:Only the first two zones are used (local.azs), so a newly added zone never changes the layout
  state = "available"
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  name = var.name

  azs = slice(data.aws_availability_zones.available.names, 0, 2)

  # Two public /20s for the load balancer and NAT, two private /20s for tasks and the database.
  public_subnets  = [for i in range(2) : cidrsubnet(var.vpc_cidr, 4, i)]
  private_subnets = [for i in range(2) : cidrsubnet(var.vpc_cidr, 4, i + 8)]

  bucket_name  = "${local.name}-artifacts-${data.aws_caller_identity.current.account_id}-${var.region}"
  model_prefix = "${trim(var.artifact_prefix, "/")}/triage/"
  store_uri    = "s3://${local.bucket_name}/${trim(var.artifact_prefix, "/")}"

  db_name = "medtriage"
  db_user = "medtriage"

  # The two services side by side: everything that differs between them is set here.
  services = {
    inference = {
      port     = 8000
      settings = var.inference
      # Settings are read from INFERENCE_HOST, INFERENCE_PORT, INFERENCE_WORKERS, ...
      env_prefix = "INFERENCE"
      # Fetches the user service's public keys (JWKS) to check access tokens.
      calls = "users"
      # No path rules: the listener's default action sends everything else here.
      paths        = []
      signs_tokens = false
      environment = {
        MODEL_VERSION         = var.model_version
        SESSION_COOKIE_SECURE = local.cookie_secure
        # Behind the ALB: trust one X-Forwarded-For hop for the client address.
        TRUSTED_PROXY_COUNT = "1"
      }
    }
    users = {
      port       = 8001
      settings   = var.users
      env_prefix = "USERS"
      # Deletes a closed account's history in the inference service.
      calls = "inference"
      # Paths the user service owns on the shared load balancer.
      paths = [
        "/api/v1/users", "/api/v1/users/*", "/api/v1/tokens", "/.well-known/*", "/static/users/*",
        "/register", "/login", "/logout", "/account",
      ]
      signs_tokens = true
      environment = {
        TRUSTED_PROXY_COUNT   = "1"
        SESSION_COOKIE_SECURE = local.cookie_secure
      }
    }
  }

  # Everything that runs in a container: the two services and the one-off trainer.
  workloads = toset(concat(keys(local.services), ["trainer"]))

  cookie_secure = var.certificate_arn != null ? "1" : "0"

  tags = merge(
    {
      Project     = local.name
      Environment = var.environment
      ManagedBy   = "terraform"
      Repository  = "medtriage"
    },
    var.tags,
  )
}
