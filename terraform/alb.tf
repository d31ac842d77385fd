resource "aws_lb" "this" {
  #checkov:skip=CKV_AWS_91:Request logs come from gunicorn's access log in CloudWatch; ALB access logs would need a second, ELB-writable bucket
  #checkov:skip=CKV_AWS_150:Off by default so `make destroy` works; turn on with alb_deletion_protection in production
  #checkov:skip=CKV2_AWS_28:A WAF web ACL is an account-level choice; attach one with aws_wafv2_web_acl_association outside this stack
  name               = local.name
  load_balancer_type = "application"
  internal           = false
  security_groups    = [aws_security_group.alb.id]
  subnets            = aws_subnet.public[*].id

  drop_invalid_header_fields = true
  enable_deletion_protection = var.alb_deletion_protection
  idle_timeout               = 60
}

resource "aws_lb_target_group" "this" {
  #checkov:skip=CKV_AWS_378:TLS ends at the load balancer; the hop to the tasks stays inside the private subnets
  for_each = local.services

  name        = "${local.name}-${each.key}"
  port        = each.value.port
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = aws_vpc.this.id

  # Requests in flight get as long to finish as gunicorn gives its workers on SIGTERM.
  deregistration_delay = var.graceful_timeout_seconds

  # /readyz answers 503 until the model is loaded, so no traffic reaches a loading task.
  health_check {
    path                = "/readyz"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "http" {
  #checkov:skip=CKV_AWS_2:Plain HTTP only when no certificate is given (first deployment, demos); with one, this listener only redirects
  #checkov:skip=CKV_AWS_103:TLS is set on the HTTPS listener; this one is HTTP by design
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = var.certificate_arn != null ? "redirect" : "forward"
    target_group_arn = var.certificate_arn != null ? null : aws_lb_target_group.this[local.default_service].arn

    dynamic "redirect" {
      for_each = var.certificate_arn != null ? [1] : []
      content {
        port        = "443"
        protocol    = "HTTPS"
        status_code = "HTTP_301"
      }
    }
  }
}

resource "aws_lb_listener" "https" {
  count = var.certificate_arn != null ? 1 : 0

  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this[local.default_service].arn
  }
}

locals {
  # Path rules go on the HTTPS listener when there is one; HTTP then only redirects.
  listener_arn = var.certificate_arn != null ? aws_lb_listener.https[0].arn : aws_lb_listener.http.arn

  # The one service without path rules takes whatever no rule matches.
  default_service = one([for k, s in local.services : k if length(s.paths) == 0])

  # An ALB rule takes at most five condition values: one rule per five paths of a service.
  listener_rules = merge([
    for k, s in local.services : {
      for i, paths in chunklist(s.paths, 5) : "${k}-${i}" => { service = k, paths = paths }
    }
  ]...)
}

resource "aws_lb_listener_rule" "this" {
  for_each = local.listener_rules

  listener_arn = local.listener_arn
  priority     = 10 + index(keys(local.listener_rules), each.key)

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this[each.value.service].arn
  }

  condition {
    path_pattern {
      values = each.value.paths
    }
  }
}
