# Addresses that changed when per-service blocks became one for_each: existing stacks keep
# their resources instead of replacing them.

moved {
  from = aws_lb_listener_rule.users[0]
  to   = aws_lb_listener_rule.this["users-0"]
}

moved {
  from = aws_lb_listener_rule.users[1]
  to   = aws_lb_listener_rule.this["users-1"]
}

moved {
  from = aws_iam_role_policy.inference_task
  to   = aws_iam_role_policy.model_access["inference"]
}

moved {
  from = aws_iam_role_policy.trainer_task
  to   = aws_iam_role_policy.model_access["trainer"]
}
