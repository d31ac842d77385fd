"""terraform/: formatting, validation, checkov, and a real apply + destroy against moto."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import boto3
import pytest
import tf_support
from aws_inventory import inventory, role_policies

TF = tf_support.TERRAFORM_DIR
REGION_IN_EXAMPLE = re.search(
    r'^region\s*=\s*"([^"]+)"', (TF / "terraform.tfvars.example").read_text(), re.M
).group(1)


def run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 600) -> str:
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-6000:]}\n{proc.stderr}"
    return proc.stdout


# --- static -----------------------------------------------------------------------------


def test_fmt(terraform_bin: str, tf_env: dict[str, str]) -> None:
    run([terraform_bin, "fmt", "-check", "-recursive", "-diff"], TF, tf_env)


def test_validate(terraform_bin: str, tf_env: dict[str, str], tmp_path: Path) -> None:
    work = tf_support.copy_terraform(tmp_path / "tf")
    run([terraform_bin, "init", "-backend=false", "-input=false", "-no-color"], work, tf_env)
    out = run([terraform_bin, "validate", "-json"], work, tf_env)
    result = json.loads(out)
    assert result["valid"], result
    assert result["warning_count"] == 0, result["diagnostics"]


def _blocks(kind: str) -> dict[str, str]:
    """Return {name: body} of every top-level `kind "name" { ... }` block in terraform/."""
    found = {}
    for path in sorted(TF.glob("*.tf")):
        text = path.read_text()
        for m in re.finditer(rf'^{kind} "([^"]+)" \{{\n(.*?)^\}}', text, re.M | re.S):
            found[m.group(1)] = m.group(2)
    return found


def test_every_variable_is_typed_and_described() -> None:
    variables = _blocks("variable")
    assert len(variables) > 10
    for name, body in variables.items():
        assert re.search(r"^  description\s*=\s*\"\S", body, re.M), f"{name} has no description"
        assert re.search(r"^  type\s*=", body, re.M), f"{name} has no type"


def test_required_outputs_exist() -> None:
    outputs = _blocks("output")
    for name in ("url", "artifacts_bucket", "ecr_repository_urls"):
        assert name in outputs
    for name, body in outputs.items():
        assert "description" in body, f"output {name} has no description"


def test_providers_pinned() -> None:
    versions = (TF / "versions.tf").read_text()
    assert re.search(r'version\s*=\s*"~> 5\.\d+\.\d+"', versions), "aws provider must be pinned"
    assert "required_version" in versions


def test_tfvars_example_only_sets_declared_variables() -> None:
    variables = _blocks("variable")
    text = (TF / "terraform.tfvars.example").read_text()
    names = re.findall(r"^#?\s*([a-z_]+)\s*=", text, re.M)
    assert names
    for name in names:
        assert name in variables, f"terraform.tfvars.example sets unknown variable {name}"


def test_no_wildcard_actions_in_grants() -> None:
    """No Allow statement uses `*` or `service:*`; the TLS-only bucket policy's Deny may.

    A statement lists its actions inline, or takes them from a for_each map
    (`each.value.actions`) whose `actions = [...]` lists are checked where they are written.
    """
    text = "\n".join(p.read_text() for p in TF.glob("*.tf"))
    for m in re.finditer(r"statement \{(.*?)\n  \}", text, re.S):
        body = m.group(1)
        if re.search(r'effect\s*=\s*"Deny"', body):
            text = text.replace(m.group(0), "")
            continue
        assert re.search(r"actions\s*=\s*(\[|each\.value\.actions\n)", body), body
    action_lists = re.findall(r"\bactions\s*=\s*\[(.*?)\]", text, re.S)
    assert len(action_lists) > 5
    for actions in action_lists:
        for action in re.findall(r'"([^"]+)"', actions):
            assert "*" not in action, f"wildcard action {action!r} in [{actions}]"


# --- checkov ----------------------------------------------------------------------------


@pytest.mark.slow
def test_checkov_has_no_failures(checkov_bin: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(checkov_bin), "-d", str(TF), "--skip-download", "--quiet", "--compact", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = json.loads(proc.stdout)
    report = report[0] if isinstance(report, list) else report
    summary = report["summary"]
    print(f"checkov {summary['checkov_version']}: {summary}")
    failed = report["results"].get("failed_checks", [])
    assert summary["failed"] == 0, "\n".join(
        f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range']})" for c in failed
    )
    assert summary["parsing_errors"] == 0
    # Every skip is written next to the resource, with its reason.
    for path in TF.glob("*.tf"):
        for line in path.read_text().splitlines():
            if "checkov:skip" in line:
                assert re.search(r"#checkov:skip=CKV2?_AWS_\d+:\S.{10,}", line), line


# --- apply and destroy against moto -----------------------------------------------------


def _apply_workdir(tmp_path: Path, endpoint: str) -> Path:
    work = tf_support.copy_terraform(tmp_path / "tf")
    (work / "moto_override.tf").write_text(tf_support.moto_override(endpoint))
    # Exactly the documented inputs: nothing beyond terraform.tfvars.example.
    shutil.copy(TF / "terraform.tfvars.example", work / "terraform.tfvars")
    return work


def _client(service: str, endpoint: str):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION_IN_EXAMPLE,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


# What the apply creates, by terraform resource type: `for_each` over the services must not
# change the set of AWS resources (91 in all with terraform.tfvars.example).
EXPECTED_RESOURCE_TYPES = {
    "aws_appautoscaling_policy": 4,
    "aws_appautoscaling_target": 2,
    "aws_cloudwatch_log_group": 4,
    "aws_db_instance": 1,
    "aws_db_parameter_group": 1,
    "aws_db_subnet_group": 1,
    "aws_default_security_group": 1,
    "aws_ecr_lifecycle_policy": 3,
    "aws_ecr_repository": 3,
    "aws_ecs_cluster": 1,
    "aws_ecs_cluster_capacity_providers": 1,
    "aws_ecs_service": 2,
    "aws_ecs_task_definition": 3,
    "aws_eip": 1,
    "aws_flow_log": 1,
    "aws_iam_role": 6,
    "aws_iam_role_policy": 4,
    "aws_iam_role_policy_attachment": 1,
    "aws_internet_gateway": 1,
    "aws_lb": 1,
    "aws_lb_listener": 1,
    "aws_lb_listener_rule": 2,
    "aws_lb_target_group": 2,
    "aws_nat_gateway": 1,
    "aws_route": 3,
    "aws_route_table": 3,
    "aws_route_table_association": 4,
    "aws_s3_bucket": 1,
    "aws_s3_bucket_lifecycle_configuration": 1,
    "aws_s3_bucket_ownership_controls": 1,
    "aws_s3_bucket_policy": 1,
    "aws_s3_bucket_public_access_block": 1,
    "aws_s3_bucket_server_side_encryption_configuration": 1,
    "aws_s3_bucket_versioning": 1,
    "aws_secretsmanager_secret": 2,
    "aws_security_group": 3,
    "aws_service_discovery_private_dns_namespace": 1,
    "aws_service_discovery_service": 2,
    "aws_subnet": 4,
    "aws_vpc": 1,
    "aws_vpc_endpoint": 1,
    "aws_vpc_security_group_egress_rule": 6,
    "aws_vpc_security_group_ingress_rule": 6,
}


def _managed_types(addresses: list[str]) -> Counter[str]:
    """Count `terraform state list` addresses by resource type (data sources left out)."""
    return Counter(a.split(".")[0] for a in addresses if not a.startswith("data."))


def _check_deployed(endpoint: str, found: dict[str, set[str]]) -> None:
    expected_counts = {
        "vpc": 1,
        "subnet": 4,
        "nat_gateway": 1,
        "load_balancer": 1,
        "target_group": 2,
        "ecs_cluster": 1,
        "ecs_service": 2,
        "ecs_task_definition": 3,
        "ecr_repository": 3,
        "s3_bucket": 1,
        "db_instance": 1,
        "scalable_target": 2,
        "scaling_policy": 4,
    }
    for kind, count in expected_counts.items():
        assert len(found[kind]) == count, (kind, found[kind])

    # Subnets span two availability zones.
    ec2 = _client("ec2", endpoint)
    subnets = ec2.describe_subnets(SubnetIds=sorted(found["subnet"]))["Subnets"]
    assert len({s["AvailabilityZone"] for s in subnets}) == 2

    # Target groups check readiness; services wait for the model to load.
    # Draining, gunicorn's graceful shutdown and ECS's stopTimeout are one setting.
    elbv2 = _client("elbv2", endpoint)
    ecs = _client("ecs", endpoint)
    for tg in elbv2.describe_target_groups()["TargetGroups"]:
        assert tg["HealthCheckPath"] == "/readyz"
        attributes = elbv2.describe_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"])
        delay = {a["Key"]: a["Value"] for a in attributes["Attributes"]}[
            "deregistration_delay.timeout_seconds"
        ]
        assert delay == "30", tg["TargetGroupName"]
    for family in ("medtriage-inference", "medtriage-users"):
        (container,) = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"][
            "containerDefinitions"
        ]
        assert container["stopTimeout"] == 30, family
        env = {e["name"]: e["value"] for e in container["environment"]}
        assert env["GUNICORN_GRACEFUL_TIMEOUT"] == "30", family
    services = ecs.describe_services(cluster="medtriage", services=["inference", "users"])
    for svc in services["services"]:
        assert svc["launchType"] == "FARGATE"
    # Bucket: versioned, encrypted, public access blocked, TLS only.
    s3 = _client("s3", endpoint)
    (bucket,) = found["s3_bucket"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert any(
        st["Effect"] == "Deny" and st["Condition"]["Bool"]["aws:SecureTransport"] == "false"
        for st in policy["Statement"]
    )

    # ECR lifecycle policies; log retention set.
    ecr = _client("ecr", endpoint)
    for repo in found["ecr_repository"]:
        assert ecr.get_lifecycle_policy(repositoryName=repo)["lifecyclePolicyText"]
    for group in _client("logs", endpoint).describe_log_groups()["logGroups"]:
        assert group.get("retentionInDays"), group["logGroupName"]

    # IAM: separate execution and task roles; no wildcard action is granted; the inference
    # task reads only the model prefix.
    policies = role_policies(endpoint, REGION_IN_EXAMPLE)
    assert {"medtriage-ecs-execution", "medtriage-inference-task", "medtriage-users-task"} <= set(
        policies
    )
    for role, docs in policies.items():
        for doc in docs:
            for st in doc["Statement"]:
                actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                assert st["Effect"] == "Allow"
                assert not any("*" in a for a in actions), (role, st)
    (inference,) = policies["medtriage-inference-task"]
    for st in inference["Statement"]:
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        for res in resources:
            if res.endswith(bucket):
                assert all(
                    v.startswith("models/triage/")
                    for v in st["Condition"]["StringLike"]["s3:prefix"]
                )
            else:
                assert res.startswith(f"arn:aws:s3:::{bucket}/models/triage/"), res
        assert not any(a.startswith("s3:Put") or a.startswith("s3:Delete") for a in st["Action"])


def _listeners(endpoint: str) -> dict[int, dict]:
    elbv2 = _client("elbv2", endpoint)
    (lb,) = elbv2.describe_load_balancers()["LoadBalancers"]
    listeners = elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    out = {}
    for listener in listeners:
        rules = elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
        listener["paths"] = sorted(
            {
                value
                for rule in rules
                for cond in rule["Conditions"]
                for value in cond.get("Values", [])
                + cond.get("PathPatternConfig", {}).get("Values", [])
            }
        )
        out[listener["Port"]] = listener
    return out


@pytest.mark.slow
def test_apply_then_destroy_on_moto(
    terraform_bin: str, tf_env: dict[str, str], moto_endpoint: str, tmp_path: Path
) -> None:
    work = _apply_workdir(tmp_path, moto_endpoint)
    tf = [terraform_bin]
    before = inventory(moto_endpoint, REGION_IN_EXAMPLE)
    assert not any(before.values()), before

    aws_env = {
        **tf_env,
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "TF_DIR": str(work),
        "PY": sys.executable,
    }

    # scripts/deploy.sh, as `make deploy` runs it, with a stand-in for docker (no engine
    # here) and no model training: bootstrap apply, keys, image pushes, full apply.
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    docker_log = tmp_path / "docker.log"
    (fake_bin / "docker").write_text(f'#!/bin/sh\necho "$*" >> {docker_log}\ncat >/dev/null\n')
    (fake_bin / "docker").chmod(0o755)
    deploy_env = {
        **aws_env,
        "PATH": f"{fake_bin}:{os.environ['PATH']}",
        "IMAGE_TAG": "test-1",
        "MODEL_PUBLISH": "skip",
        "WAIT": "0",
    }
    started = time.monotonic()
    out = run(["bash", str(tf_support.REPO / "scripts" / "deploy.sh")], work, deploy_env)
    deploy_seconds = time.monotonic() - started
    assert "token signing key (Ed25519): generated and stored" in out
    assert "session/CSRF keys: generated and stored" in out
    docker_calls = docker_log.read_text().splitlines()
    assert docker_calls[0].startswith("login --username AWS --password-stdin ")
    for image in ("inference", "users", "trainer"):
        assert any(
            c.startswith(f"build --platform linux/amd64 -f docker/{image}.Dockerfile")
            for c in docker_calls
        )
        assert any(
            c.startswith("push ") and f"/medtriage/{image}:test-1" in c for c in docker_calls
        )
    addresses = run([*tf, "state", "list"], work, tf_env).split()
    applied = _managed_types(addresses)
    assert applied == EXPECTED_RESOURCE_TYPES
    resource_count = applied.total()

    deployed = inventory(moto_endpoint, REGION_IN_EXAMPLE)
    _check_deployed(moto_endpoint, deployed)
    outputs = json.loads(run([*tf, "output", "-json"], work, tf_env))
    assert outputs["url"]["value"].startswith("http://")
    assert set(outputs["ecr_repository_urls"]["value"]) == {"inference", "users", "trainer"}
    sm = _client("secretsmanager", moto_endpoint)
    pem = sm.get_secret_value(SecretId=outputs["signing_key_secret_arn"]["value"])["SecretString"]
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    app_keys = json.loads(
        sm.get_secret_value(SecretId=outputs["app_keys_secret_arn"]["value"])["SecretString"]
    )
    assert set(app_keys) == {"inference_secret_key", "users_secret_key"}
    ecs = _client("ecs", moto_endpoint)
    for family in ("medtriage-inference", "medtriage-users", "medtriage-trainer"):
        task = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
        assert task["containerDefinitions"][0]["image"].endswith(":test-1")
        assert task["executionRoleArn"] != task["taskRoleArn"]

    # Without a certificate: one HTTP listener that routes the user paths to the user service.
    listeners = _listeners(moto_endpoint)
    assert set(listeners) == {80}
    assert "/api/v1/tokens" in listeners[80]["paths"]
    assert "/.well-known/*" in listeners[80]["paths"]

    # With a certificate: HTTPS carries the rules and HTTP only redirects. Checked on the
    # plan (moto's drift would make a second apply slow, and proves nothing more).
    # The same plan sets a longer graceful timeout: the one variable reaches all three places.
    tls_vars = [
        "-var=certificate_arn=arn:aws:acm:eu-west-1:123456789012:certificate/x",
        "-var=graceful_timeout_seconds=45",
    ]
    run(
        [*tf, "plan", "-refresh=false", "-input=false", "-no-color", "-out=tfplan", *tls_vars],
        work,
        tf_env,
    )
    plan = json.loads(run([*tf, "show", "-json", "tfplan"], work, tf_env))
    planned = {r["address"]: r for r in plan["planned_values"]["root_module"]["resources"]}
    https = planned["aws_lb_listener.https[0]"]["values"]
    assert https["protocol"] == "HTTPS" and https["port"] == 443
    assert https["ssl_policy"].startswith("ELBSecurityPolicy-TLS13")
    http_action = planned["aws_lb_listener.http"]["values"]["default_action"][0]
    assert http_action["type"] == "redirect"
    assert http_action["redirect"][0]["protocol"] == "HTTPS"
    assert 'aws_vpc_security_group_ingress_rule.alb_https["0.0.0.0/0"]' in planned
    changes = {c["address"]: c["change"]["actions"] for c in plan["resource_changes"]}
    assert changes['aws_lb_listener_rule.this["users-0"]'] == ["delete", "create"]  # moved to HTTPS
    for name in ("inference", "users"):
        tg = planned[f'aws_lb_target_group.this["{name}"]']["values"]
        assert str(tg["deregistration_delay"]) == "45", name
        task = planned[f'aws_ecs_task_definition.service["{name}"]']["values"]
        (container,) = json.loads(task["container_definitions"])
        assert container["stopTimeout"] == 45, name
        env = {e["name"]: e["value"] for e in container["environment"]}
        assert env["GUNICORN_GRACEFUL_TIMEOUT"] == "45", name
    # moto does not echo the grace period back, so read what terraform asks for.
    for name in ("inference", "users"):
        svc = planned[f'aws_ecs_service.this["{name}"]']["values"]
        assert svc["health_check_grace_period_seconds"] >= 120, name

    # Fill the bucket (two versions of an object) and the registries, as a deployment does:
    # scripts/destroy.sh must empty them, or terraform cannot delete them.
    bucket = outputs["artifacts_bucket"]["value"]
    s3 = _client("s3", moto_endpoint)
    for version in ("v1", "v2"):
        s3.put_object(Bucket=bucket, Key="models/triage/LATEST", Body=version.encode())
    ecr = _client("ecr", moto_endpoint)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"digest": "sha256:" + "0" * 64, "size": 1, "mediaType": "x"},
            "layers": [],
        }
    )
    for url in outputs["ecr_repository_urls"]["value"].values():
        ecr.put_image(repositoryName=url.split("/", 1)[1], imageManifest=manifest, imageTag="t1")

    started = time.monotonic()
    destroy_env = {**aws_env, "AUTO_APPROVE": "1"}
    out = run(["bash", str(tf_support.REPO / "scripts" / "destroy.sh")], work, destroy_env)
    assert "deleted 2 object versions" in out
    assert out.count(": deleted 1 images") == 3
    destroy_seconds = time.monotonic() - started
    after = inventory(moto_endpoint, REGION_IN_EXAMPLE)
    left = {kind: ids for kind, ids in after.items() if ids}
    print(
        f"moto round trip: {resource_count} resources, deploy.sh {deploy_seconds:.0f} s, "
        f"destroy.sh {destroy_seconds:.0f} s"
    )
    assert left == {}, f"left after destroy: {left}"
    assert run([*tf, "state", "list"], work, tf_env).split() == []
    # The only thing destroy keeps on purpose: the database's final snapshot.
    snapshots = _client("rds", moto_endpoint).describe_db_snapshots(SnapshotType="manual")
    assert [s["DBSnapshotIdentifier"] for s in snapshots["DBSnapshots"]] == ["medtriage-final"]
    assert _client("route53", moto_endpoint).list_hosted_zones()["HostedZones"] == []
