#!/usr/bin/env bash
# `make destroy`: remove the whole MedTriage stack from AWS with terraform.
#
# terraform refuses to delete a non-empty bucket or a repository holding images (unless
# force_destroy is set), so this first empties the artifacts bucket (every object version
# and delete marker) and the ECR repositories, turns deletion protection off where it is on,
# then runs `terraform destroy`. The database's final snapshot (<name>-final) is kept.
#
# Asks for confirmation unless AUTO_APPROVE=1. TF_DIR selects another terraform directory.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
TF_DIR=${TF_DIR:-$REPO/terraform}
PY=${PY:-$REPO/.venv/bin/python}

say() { printf '\n==> %s\n' "$*"; }
command -v terraform >/dev/null 2>&1 || { echo "destroy: terraform is required" >&2; exit 1; }
[ -x "$PY" ] || { echo "destroy: $PY not found; run make install" >&2; exit 1; }
tf() { terraform -chdir="$TF_DIR" "$@"; }

tf init -input=false >/dev/null
STATE_JSON=$(mktemp)
trap 'rm -f "$STATE_JSON"' EXIT
tf show -json >"$STATE_JSON"

# What the state holds: bucket, repositories, region, and resources under deletion protection.
eval "$("$PY" - "$STATE_JSON" <<'PYEOF'
import json
import shlex
import sys

state = json.load(open(sys.argv[1]))
resources = state.get("values", {}).get("root_module", {}).get("resources", [])
bucket, repos, region, protected, name, snapshot = "", [], "", [], "", ""
for res in resources:
    if res["mode"] != "managed":
        continue
    values = res["values"]
    if res["type"] == "aws_s3_bucket":
        bucket = values["bucket"]
        region = values.get("region") or region
    elif res["type"] == "aws_ecr_repository":
        repos.append(values["name"])
        region = values["repository_url"].split(".")[3]
    elif res["type"] == "aws_lb" and values.get("enable_deletion_protection"):
        protected.append("aws_lb.this")
    elif res["type"] == "aws_db_instance":
        name = values["identifier"]
        if values.get("deletion_protection"):
            protected.append("aws_db_instance.this")
        if not values.get("skip_final_snapshot"):
            snapshot = values.get("final_snapshot_identifier") or ""
print(f"COUNT={len([r for r in resources if r['mode'] == 'managed'])}")
print(f"BUCKET={shlex.quote(bucket)}")
print(f"REPOS={shlex.quote(' '.join(repos))}")
print(f"STATE_REGION={shlex.quote(region)}")
print(f"PROTECTED={shlex.quote(' '.join(protected))}")
print(f"DB_NAME={shlex.quote(name)}")
print(f"FINAL_SNAPSHOT={shlex.quote(snapshot)}")
PYEOF
)"

if [ "$COUNT" = 0 ]; then
  echo "destroy: the terraform state in $TF_DIR is empty; nothing to destroy"
  exit 0
fi
export AWS_REGION=${AWS_REGION:-$STATE_REGION} AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-${AWS_REGION:-$STATE_REGION}}

# A leftover final snapshot of an earlier stack would make the database delete fail late.
if [ -n "$FINAL_SNAPSHOT" ]; then
  if "$PY" -c '
import sys, boto3
from botocore.exceptions import ClientError
try:
    boto3.client("rds").describe_db_snapshots(DBSnapshotIdentifier=sys.argv[1])
except ClientError:
    sys.exit(1)
' "$FINAL_SNAPSHOT"; then
    echo "destroy: DB snapshot $FINAL_SNAPSHOT already exists (from an earlier teardown);" >&2
    echo "         delete or rename it first, or the database cannot take its final snapshot." >&2
    exit 1
  fi
fi

if [ "${AUTO_APPROVE:-0}" != 1 ]; then
  echo "This deletes $COUNT resources: the database ($DB_NAME, final snapshot ${FINAL_SNAPSHOT:-none}),"
  echo "every object version in s3://$BUCKET, and every image in: $REPOS."
  read -r -p "Type the bucket name to confirm: " answer
  [ "$answer" = "$BUCKET" ] || { echo "destroy: not confirmed"; exit 1; }
fi

if [ -n "$BUCKET" ]; then
  say "empty s3://$BUCKET (all versions)"
  "$PY" - "$BUCKET" <<'PYEOF'
import sys

import boto3
from botocore.exceptions import ClientError

s3 = boto3.client("s3")
bucket = sys.argv[1]
deleted = 0
try:
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        keys = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            deleted += len(keys)
except ClientError as exc:
    if exc.response["Error"]["Code"] != "NoSuchBucket":
        raise
print(f"deleted {deleted} object versions")
PYEOF
fi

if [ -n "$REPOS" ]; then
  say "delete images from: $REPOS"
  # shellcheck disable=SC2086
  "$PY" - $REPOS <<'PYEOF'
import sys

import boto3

ecr = boto3.client("ecr")
for repo in sys.argv[1:]:
    try:
        ids = [
            image
            for page in ecr.get_paginator("list_images").paginate(repositoryName=repo)
            for image in page["imageIds"]
        ]
    except ecr.exceptions.RepositoryNotFoundException:
        continue
    for start in range(0, len(ids), 100):
        ecr.batch_delete_image(repositoryName=repo, imageIds=ids[start : start + 100])
    print(f"{repo}: deleted {len(ids)} images")
PYEOF
fi

if [ -n "$PROTECTED" ]; then
  say "turn deletion protection off: $PROTECTED"
  targets=()
  for t in $PROTECTED; do targets+=("-target=$t"); done
  tf apply -input=false -auto-approve "${targets[@]}" \
    -var alb_deletion_protection=false -var db_deletion_protection=false
fi

say "terraform destroy"
tf destroy -input=false -auto-approve
say "destroyed"
