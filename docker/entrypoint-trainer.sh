#!/usr/bin/env bash
# Trainer entrypoint: train, evaluate and publish one version to ARTIFACT_STORE.
# With TRAIN_IF_MISSING=1 it does nothing when the store already has a published model
# (docker compose up then trains only the first time).
set -euo pipefail
cd "$(dirname "$0")/.."

: "${ARTIFACT_STORE:?ARTIFACT_STORE must name the store to publish to (s3://BUCKET/PREFIX)}"
if [ "${TRAIN_IF_MISSING:-0}" = 1 ] && python docker/model_published.py "$ARTIFACT_STORE"; then
  echo "a model is already published in $ARTIFACT_STORE; nothing to do"
  exit 0
fi
exec python -m training train --store "$ARTIFACT_STORE" "$@"
