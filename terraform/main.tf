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

  # Paths the user service owns on the shared load balancer; everything else is inference.
  # An ALB rule takes at most five conditions values, so the list is split into two rules.
  users_paths = [
    ["/api/v1/users", "/api/v1/users/*", "/api/v1/tokens", "/.well-known/*", "/static/users/*"],
    ["/register", "/login", "/logout", "/account"],
  ]

  services = {
    inference = {
      port     = 8000
      settings = var.inference
    }
    users = {
      port     = 8001
      settings = var.users
    }
  }

  listener_arn = var.certificate_arn != null ? aws_lb_listener.https[0].arn : aws_lb_listener.http.arn

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
