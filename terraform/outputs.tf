output "url" {
  description = "Public URL of the service (home page)"
  value       = "${local.public_url}/"
}

output "alb_dns_name" {
  description = "DNS name of the load balancer; point your domain's CNAME or alias here"
  value       = aws_lb.this.dns_name
}

output "artifacts_bucket" {
  description = "Name of the S3 bucket holding published models"
  value       = aws_s3_bucket.artifacts.id
}

output "artifact_store" {
  description = "ARTIFACT_STORE URI the trainer publishes to and the inference service reads from"
  value       = local.store_uri
}

output "ecr_repository_urls" {
  description = "ECR repository URL of each image (inference, users, trainer)"
  value       = { for k, r in aws_ecr_repository.this : k => r.repository_url }
}

output "ecs_cluster_name" {
  description = "Name of the ECS cluster"
  value       = aws_ecs_cluster.this.name
}

output "ecs_service_names" {
  description = "ECS service name of each service"
  value       = { for k, s in aws_ecs_service.this : k => s.name }
}

output "trainer_task_definition_arn" {
  description = "Task definition of the one-off training job (`aws ecs run-task`)"
  value       = aws_ecs_task_definition.trainer.arn
}

output "private_subnet_ids" {
  description = "Private subnets, for running the trainer task"
  value       = aws_subnet.private[*].id
}

output "task_security_group_id" {
  description = "Security group of the tasks, for running the trainer task"
  value       = aws_security_group.tasks.id
}

output "db_endpoint" {
  description = "Address of the PostgreSQL instance (private)"
  value       = aws_db_instance.this.address
}

output "db_secret_arn" {
  description = "Secrets Manager secret (JSON username/password) RDS manages for the database"
  value       = local.db_secret_arn
}

output "signing_key_secret_arn" {
  description = "Secrets Manager secret the user service's token signing key is stored in"
  value       = aws_secretsmanager_secret.signing_key.arn
}

output "app_keys_secret_arn" {
  description = "Secrets Manager secret holding the services' session and CSRF signing keys (JSON)"
  value       = aws_secretsmanager_secret.app_keys.arn
}
