#!/usr/bin/env bash
# Inference image entrypoint: fetch and verify the model before any worker starts, then
# replace this shell with gunicorn (PID 1 gets the signals).
set -euo pipefail
cd "$(dirname "$0")/.."

# In AWS the database arrives as parts (DB_HOST, DB_PASSWORD from Secrets Manager, ...);
# this sets INFERENCE_DATABASE_URL from them unless it is already set.
eval "$(python docker/dburl.py INFERENCE_DATABASE_URL)"

python -m inference_service fetch
exec gunicorn -c inference_service/gunicorn_conf.py "inference_service:create_app()"
