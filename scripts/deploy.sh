#!/usr/bin/env bash
# `make deploy`: deploy MedTriage to AWS with terraform (see documentation/deployment.md).
#
#   1. create the registries, the artifacts bucket and the signing-key secret (targeted apply)
#   2. store a token signing key in Secrets Manager, once
#   3. build the three images and push them with an immutable tag
#   4. publish a model to the bucket unless one is there (MODEL_PUBLISH=local|ecs|skip)
#   5. apply the whole stack with that image tag, wait for the services, print the URL
#
# Needs: terraform, docker, AWS credentials (any method the AWS SDK reads), and the project's
# .venv (boto3, cryptography; `make deploy` installs it). Settings come from
# terraform/terraform.tfvars (copy terraform/terraform.tfvars.example).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
TF_DIR=${TF_DIR:-$REPO/terraform}
PY=${PY:-$REPO/.venv/bin/python}
MODEL_PUBLISH=${MODEL_PUBLISH:-local}
IMAGE_TAG=${IMAGE_TAG:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo dev)-$(date -u +%Y%m%d%H%M%S)}
PLATFORM=${DOCKER_PLATFORM:-linux/amd64}

say() { printf '\n==> %s\n' "$*"; }
need() { command -v "$1" >/dev/null 2>&1 || { echo "deploy: $1 is required" >&2; exit 1; }; }
need terraform
need docker
[ -x "$PY" ] || { echo "deploy: $PY not found; run make install" >&2; exit 1; }
[ -f "$TF_DIR/terraform.tfvars" ] || echo "deploy: no terraform.tfvars; using the defaults of variables.tf"

tf() { terraform -chdir="$TF_DIR" "$@"; }
out() { tf output -raw "$1"; }

say "terraform init"
tf init -input=false

say "bootstrap: registries, artifacts bucket, signing-key secret"
tf apply -input=false -auto-approve \
  -target=aws_ecr_repository.this -target=aws_ecr_lifecycle_policy.this \
  -target=aws_s3_bucket.artifacts -target=aws_s3_bucket_versioning.artifacts \
  -target=aws_s3_bucket_server_side_encryption_configuration.artifacts \
  -target=aws_s3_bucket_public_access_block.artifacts -target=aws_s3_bucket_policy.artifacts \
  -target=aws_s3_bucket_ownership_controls.artifacts \
  -target=aws_secretsmanager_secret.signing_key -target=aws_secretsmanager_secret.app_keys

# Read attributes from the state (outputs exist only after the first full apply).
state_attr() {  # state_attr TYPE KEY ATTRIBUTE; KEY is the for_each key, else the resource name
  tf show -json | "$PY" -c '
import json, sys
kind, key, attr = sys.argv[1:4]
for res in json.load(sys.stdin)["values"]["root_module"].get("resources", []):
    if res["mode"] == "managed" and res["type"] == kind and str(res.get("index", res["name"])) == key:
        print(res["values"][attr])
        break
else:
    sys.exit(f"{kind} {key} is not in the state")
' "$@"
}

INFERENCE_REPO=$(state_attr aws_ecr_repository inference repository_url)
REGISTRY=${INFERENCE_REPO%%/*}
AWS_REGION=$(echo "$REGISTRY" | cut -d. -f4)
export AWS_REGION AWS_DEFAULT_REGION=$AWS_REGION
ARTIFACT_STORE=$(echo 'local.store_uri' | tf console | tr -d '"')
export ARTIFACT_STORE

say "keys (generated once, kept in Secrets Manager)"
"$PY" - "$(state_attr aws_secretsmanager_secret signing_key arn)" "$(state_attr aws_secretsmanager_secret app_keys arn)" <<'PYEOF'
import json
import secrets
import sys

import boto3
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

signing_key_id, app_keys_id = sys.argv[1:3]
sm = boto3.client("secretsmanager")


def store_once(secret_id: str, make, what: str) -> None:
    if sm.list_secret_version_ids(SecretId=secret_id)["Versions"]:
        print(f"{what}: already stored")
    else:
        sm.put_secret_value(SecretId=secret_id, SecretString=make())
        print(f"{what}: generated and stored")


store_once(
    signing_key_id,
    lambda: Ed25519PrivateKey.generate()
    .private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    .decode(),
    "token signing key (Ed25519)",
)
store_once(
    app_keys_id,
    lambda: json.dumps(
        {"inference_secret_key": secrets.token_hex(32), "users_secret_key": secrets.token_hex(32)}
    ),
    "session/CSRF keys",
)
PYEOF

say "build and push images (tag $IMAGE_TAG)"
"$PY" -c '
import base64, boto3
token = boto3.client("ecr").get_authorization_token()["authorizationData"][0]["authorizationToken"]
print(base64.b64decode(token).decode().split(":", 1)[1])
' | docker login --username AWS --password-stdin "$REGISTRY"
for image in inference users trainer; do
  url=$(state_attr aws_ecr_repository "$image" repository_url)
  docker build --platform "$PLATFORM" -f "docker/$image.Dockerfile" -t "$url:$IMAGE_TAG" .
  docker push "$url:$IMAGE_TAG"
done

publish_local() {
  if [ "${RETRAIN:-0}" != 1 ] && "$PY" docker/model_published.py "$ARTIFACT_STORE"; then
    echo "a model is already published in $ARTIFACT_STORE (RETRAIN=1 to train anew)"
  else
    "$PY" -m training train --store "$ARTIFACT_STORE"
  fi
}

if [ "$MODEL_PUBLISH" = local ]; then
  say "publish the model to $ARTIFACT_STORE (trained on this machine)"
  publish_local
fi

say "apply the whole stack"
tf apply -input=false -auto-approve -var "image_tag=$IMAGE_TAG"

CLUSTER=$(out ecs_cluster_name)
if [ "$MODEL_PUBLISH" = ecs ]; then
  say "publish the model with the trainer task on Fargate"
  "$PY" - "$CLUSTER" "$(out trainer_task_definition_arn)" "$(tf output -json private_subnet_ids)" "$(out task_security_group_id)" <<'PYEOF'
import json, sys
import boto3
cluster, task_def, subnets, sg = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
ecs = boto3.client("ecs")
task = ecs.run_task(
    cluster=cluster, taskDefinition=task_def, launchType="FARGATE", count=1,
    networkConfiguration={"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [sg],
                                                  "assignPublicIp": "DISABLED"}},
)["tasks"][0]["taskArn"]
print(f"trainer task {task}; waiting (up to 2 h)")
ecs.get_waiter("tasks_stopped").wait(cluster=cluster, tasks=[task],
                                     WaiterConfig={"Delay": 30, "MaxAttempts": 240})
done = ecs.describe_tasks(cluster=cluster, tasks=[task])["tasks"][0]
code = done["containers"][0].get("exitCode")
if code != 0:
    sys.exit(f"trainer failed (exit {code}): {done.get('stoppedReason')}; see its CloudWatch logs")
PYEOF
  "$PY" -c '
import boto3, sys
ecs = boto3.client("ecs")
for svc in ("inference", "users"):
    ecs.update_service(cluster=sys.argv[1], service=svc, forceNewDeployment=True)
' "$CLUSTER"
fi

if [ "${WAIT:-1}" = 1 ]; then
  say "waiting for both services to become stable"
  "$PY" -c '
import boto3, sys
boto3.client("ecs").get_waiter("services_stable").wait(
    cluster=sys.argv[1], services=["inference", "users"], WaiterConfig={"Delay": 15, "MaxAttempts": 80})
' "$CLUSTER"
fi

say "deployed $IMAGE_TAG: $(out url)"
