resource "aws_ecs_cluster" "this" {
  name = local.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

# Private DNS so the services reach each other (JWKS, history deletion) without the public ALB.
resource "aws_service_discovery_private_dns_namespace" "this" {
  name        = "${local.name}.internal"
  description = "Service discovery for ${local.name}"
  vpc         = aws_vpc.this.id
}

resource "aws_service_discovery_service" "this" {
  for_each = local.services

  name = each.key

  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.this.id
    routing_policy = "MULTIVALUE"

    dns_records {
      type = "A"
      ttl  = 10
    }
  }

  health_check_custom_config {
    failure_threshold = 1
  }
}

locals {
  db_secret_arn = aws_db_instance.this.master_user_secret[0].secret_arn
  db_host       = aws_db_instance.this.address

  # The entrypoint scripts build postgresql+psycopg URLs from these parts (the password
  # arrives as a secret), and create each service's database on first start.
  common_environment = [
    { name = "AWS_REGION", value = var.region },
    { name = "AWS_DEFAULT_REGION", value = var.region },
    { name = "ARTIFACT_STORE", value = local.store_uri },
    { name = "DB_HOST", value = local.db_host },
    { name = "DB_PORT", value = tostring(aws_db_instance.this.port) },
    { name = "DB_USER", value = local.db_user },
    { name = "DB_SSLMODE", value = "require" },
  ]

  public_url   = trimsuffix(coalesce(var.public_url, "${var.certificate_arn != null ? "https" : "http"}://${aws_lb.this.dns_name}"), "/")
  internal_url = { for k, v in local.services : k => "http://${k}.${aws_service_discovery_private_dns_namespace.this.name}:${v.port}" }

  # Built from local.services; what differs between the services is set there.
  container_environment = {
    for k, s in local.services : k => concat(
      local.common_environment,
      [
        { name = "${s.env_prefix}_HOST", value = "0.0.0.0" },
        { name = "${s.env_prefix}_PORT", value = tostring(s.port) },
        { name = "${s.env_prefix}_WORKERS", value = tostring(s.settings.gunicorn_workers) },
        { name = "${s.env_prefix}_THREADS", value = tostring(s.settings.gunicorn_threads) },
        { name = "GUNICORN_GRACEFUL_TIMEOUT", value = tostring(var.graceful_timeout_seconds) },
        { name = "DB_NAME", value = k },
        { name = "${upper(s.calls)}_SERVICE_URL", value = local.internal_url[s.calls] },
        { name = "INFERENCE_PUBLIC_URL", value = local.public_url },
        { name = "USERS_PUBLIC_URL", value = local.public_url },
      ],
      [for name, value in s.environment : { name = name, value = value }],
    )
  }

  container_secrets = {
    for k, s in local.services : k => concat(
      [
        { name = "DB_PASSWORD", valueFrom = "${local.db_secret_arn}:password::" },
        { name = "${s.env_prefix}_SECRET_KEY", valueFrom = "${aws_secretsmanager_secret.app_keys.arn}:${k}_secret_key::" },
      ],
      s.signs_tokens ? [{ name = "USERS_SIGNING_KEY", valueFrom = aws_secretsmanager_secret.signing_key.arn }] : [],
    )
  }
}

resource "aws_ecs_task_definition" "service" {
  for_each = local.services

  family                   = "${local.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.settings.cpu
  memory                   = each.value.settings.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task[each.key].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([
    {
      name                   = each.key
      image                  = "${aws_ecr_repository.this[each.key].repository_url}:${var.image_tag}"
      essential              = true
      readonlyRootFilesystem = false
      portMappings = [
        { containerPort = each.value.port, protocol = "tcp", name = each.key },
      ]
      environment = local.container_environment[each.key]
      secrets     = local.container_secrets[each.key]
      # ECS deregisters the task from its target group first, then sends SIGTERM; gunicorn
      # then gets this long to finish before SIGKILL.
      stopTimeout = var.graceful_timeout_seconds
      healthCheck = {
        command     = ["CMD", "python", "/app/docker/healthcheck.py", "http://127.0.0.1:${each.value.port}/healthz"]
        interval    = 30
        timeout     = 5
        retries     = 3
        startPeriod = 60
      }
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.this[each.key].name
          awslogs-region        = var.region
          awslogs-stream-prefix = each.key
        }
      }
    },
  ])
}

resource "aws_ecs_task_definition" "trainer" {
  family                   = "${local.name}-trainer"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.trainer.cpu
  memory                   = var.trainer.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task["trainer"].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([
    {
      name      = "trainer"
      image     = "${aws_ecr_repository.this["trainer"].repository_url}:${var.image_tag}"
      essential = true
      environment = [
        { name = "AWS_REGION", value = var.region },
        { name = "AWS_DEFAULT_REGION", value = var.region },
        { name = "ARTIFACT_STORE", value = local.store_uri },
      ]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.this["trainer"].name
          awslogs-region        = var.region
          awslogs-stream-prefix = "trainer"
        }
      }
    },
  ])
}

resource "aws_ecs_service" "this" {
  for_each = local.services

  name            = each.key
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.service[each.key].arn
  desired_count   = each.value.settings.desired_count
  launch_type     = "FARGATE"

  # Model download and load take minutes; the ALB must not kill a task that is still loading.
  health_check_grace_period_seconds  = var.health_check_grace_period_seconds
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  enable_execute_command             = false
  propagate_tags                     = "SERVICE"

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.this[each.key].arn
    container_name   = each.key
    container_port   = each.value.port
  }

  service_registries {
    registry_arn = aws_service_discovery_service.this[each.key].arn
  }

  # Autoscaling owns the task count after the first apply.
  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener.http, aws_lb_listener.https, aws_lb_listener_rule.this, aws_iam_role_policy.execution]
}
