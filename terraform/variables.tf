################################################################################
# General
################################################################################

variable "region" {
  description = "AWS region to deploy into"
  type        = string
  default     = "eu-west-1"
}

variable "name" {
  description = "Name prefix for every resource (lowercase letters, digits and hyphens)"
  type        = string
  default     = "medtriage"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name))
    error_message = "name must be 2-21 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "environment" {
  description = "Environment label added to every resource's tags"
  type        = string
  default     = "production"
}

variable "tags" {
  description = "Extra tags for every resource"
  type        = map(string)
  default     = {}
}

################################################################################
# Network
################################################################################

variable "vpc_cidr" {
  description = "CIDR block of the VPC; split into two public and two private /20 subnets"
  type        = string
  default     = "10.40.0.0/16"
}

variable "single_nat_gateway" {
  description = "Use one NAT gateway for both private subnets (cheaper) instead of one per availability zone (survives the loss of a zone)"
  type        = bool
  default     = true
}

variable "flow_log_retention_days" {
  description = "Days to keep VPC flow logs"
  type        = number
  default     = 365
}

################################################################################
# Load balancer
################################################################################

variable "certificate_arn" {
  description = "ACM certificate ARN for the HTTPS listener. When null the ALB serves plain HTTP only; when set, HTTP redirects to HTTPS"
  type        = string
  default     = null
}

variable "public_url" {
  description = "URL users reach the service at (e.g. https://triage.example.org), used for links between the two services' pages. Null means the load balancer's own address"
  type        = string
  default     = null
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener"
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "alb_ingress_cidrs" {
  description = "CIDR blocks allowed to reach the load balancer"
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "alb_deletion_protection" {
  description = "Refuse to delete the load balancer (set true in production once the stack is stable; `make destroy` turns it off first)"
  type        = bool
  default     = false
}

################################################################################
# Containers
################################################################################

variable "image_tag" {
  description = "Image tag deployed for every service; `make deploy` passes the tag it pushed"
  type        = string
  default     = "latest"
}

variable "model_version" {
  description = "Published model version the inference service serves (`latest` follows triage/LATEST)"
  type        = string
  default     = "latest"
}

variable "artifact_prefix" {
  description = "Key prefix of the artifact store inside the bucket; models live under <prefix>/triage/"
  type        = string
  default     = "models"
}

variable "inference" {
  description = "Inference service sizing and scaling. cpu/memory in Fargate units; min/max task counts for autoscaling"
  type = object({
    cpu                = number
    memory             = number
    desired_count      = number
    min_count          = number
    max_count          = number
    gunicorn_workers   = number
    gunicorn_threads   = number
    cpu_target_percent = number
    requests_per_task  = number
  })
  default = {
    cpu                = 1024
    memory             = 4096
    desired_count      = 2
    min_count          = 2
    max_count          = 8
    gunicorn_workers   = 2
    gunicorn_threads   = 16 # micro-batching: more threads, bigger batches (inference_service/gunicorn_conf.py)
    cpu_target_percent = 60
    requests_per_task  = 300
  }
}

variable "users" {
  description = "User service sizing and scaling. cpu/memory in Fargate units; min/max task counts for autoscaling"
  type = object({
    cpu                = number
    memory             = number
    desired_count      = number
    min_count          = number
    max_count          = number
    gunicorn_workers   = number
    gunicorn_threads   = number
    cpu_target_percent = number
    requests_per_task  = number
  })
  default = {
    cpu                = 512
    memory             = 1024
    desired_count      = 2
    min_count          = 2
    max_count          = 6
    gunicorn_workers   = 2
    gunicorn_threads   = 2 # as user_management_service/gunicorn_conf.py
    cpu_target_percent = 60
    requests_per_task  = 500
  }
}

variable "trainer" {
  description = "Fargate size of the one-off training task"
  type = object({
    cpu    = number
    memory = number
  })
  default = {
    cpu    = 4096
    memory = 16384
  }
}

variable "health_check_grace_period_seconds" {
  description = "Seconds ECS ignores load balancer health checks after a task starts; covers the model download and load"
  type        = number
  default     = 300

  validation {
    # An inference task needs about a minute to download and load the model.
    condition     = var.health_check_grace_period_seconds >= 60
    error_message = "health_check_grace_period_seconds must be at least 60, the time an inference task takes to load the model."
  }
}

variable "graceful_timeout_seconds" {
  description = "Seconds a stopping task gets to finish requests in flight: the target groups' deregistration delay, gunicorn's graceful timeout (GUNICORN_GRACEFUL_TIMEOUT) and the container's stopTimeout"
  type        = number
  default     = 30

  validation {
    # Fargate allows a stopTimeout of at most 120 seconds.
    condition     = var.graceful_timeout_seconds >= 1 && var.graceful_timeout_seconds <= 120
    error_message = "graceful_timeout_seconds must be between 1 and 120 (Fargate's stopTimeout limit)."
  }
}

variable "log_retention_days" {
  description = "Days to keep container logs in CloudWatch"
  type        = number
  default     = 365
}

################################################################################
# Database
################################################################################

variable "db_instance_class" {
  description = "RDS instance class"
  type        = string
  default     = "db.t4g.small"
}

variable "db_engine_version" {
  description = "PostgreSQL major.minor version"
  type        = string
  default     = "16.4"
}

variable "db_allocated_storage" {
  description = "Initial storage in GiB; storage autoscaling may grow it to db_max_allocated_storage"
  type        = number
  default     = 20
}

variable "db_max_allocated_storage" {
  description = "Upper bound in GiB for storage autoscaling"
  type        = number
  default     = 100
}

variable "db_multi_az" {
  description = "Keep a synchronous standby in the second availability zone"
  type        = bool
  default     = true
}

variable "db_backup_retention_days" {
  description = "Days of automated backups"
  type        = number
  default     = 7
}

variable "db_deletion_protection" {
  description = "Refuse to delete the database (`make destroy` turns it off first)"
  type        = bool
  default     = false
}

variable "db_skip_final_snapshot" {
  description = "Delete the database without a final snapshot on destroy"
  type        = bool
  default     = false
}

################################################################################
# Registry
################################################################################

variable "ecr_keep_images" {
  description = "Tagged images kept per repository by the lifecycle policy"
  type        = number
  default     = 20
}

variable "force_destroy" {
  description = "Let terraform delete the artifacts bucket and repositories even when not empty (`make destroy` empties them first either way)"
  type        = bool
  default     = false
}
