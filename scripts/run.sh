#!/usr/bin/env bash
# `make run`: train and publish a model on first use, then start both services with gunicorn.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export ARTIFACT_STORE="${ARTIFACT_STORE:-file://./.artifacts}"
export INFERENCE_PORT="${INFERENCE_PORT:-8000}" USERS_PORT="${USERS_PORT:-8001}"
# Local runs listen on loopback only; containers set the hosts to 0.0.0.0.
export INFERENCE_HOST="${INFERENCE_HOST:-127.0.0.1}" USERS_HOST="${USERS_HOST:-127.0.0.1}"
# Each service finds the other (keys, links, CORS) on the ports chosen above.
export USERS_SERVICE_URL="${USERS_SERVICE_URL:-http://127.0.0.1:$USERS_PORT}"
export USERS_PUBLIC_URL="${USERS_PUBLIC_URL:-http://127.0.0.1:$USERS_PORT}"
export INFERENCE_SERVICE_URL="${INFERENCE_SERVICE_URL:-http://127.0.0.1:$INFERENCE_PORT}"
export INFERENCE_PUBLIC_URL="${INFERENCE_PUBLIC_URL:-http://127.0.0.1:$INFERENCE_PORT}"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
mkdir -p .data

if ! $PY -c "from medtriage.store import open_store, resolve_version; resolve_version(open_store())" 2>/dev/null; then
  echo "No model in $ARTIFACT_STORE yet: training one (15-25 minutes on 2 cores the first time, 5 once the embeddings are cached)."
  $PY -m training train
fi

pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop INT TERM EXIT

.venv/bin/gunicorn -c user_management_service/gunicorn_conf.py "user_management_service:create_app()" &
pids+=($!)
$PY -m inference_service fetch
.venv/bin/gunicorn -c inference_service/gunicorn_conf.py "inference_service:create_app()" &
pids+=($!)

ready=no
for _ in $(seq 1 180); do
  curl -fs "http://127.0.0.1:$INFERENCE_PORT/readyz" >/dev/null 2>&1 && { ready=yes; break; }
  sleep 1
done
echo
[ "$ready" = yes ] || echo "The model is still loading: /readyz turns 200 when it serves."
echo "MedTriage is running: http://127.0.0.1:$INFERENCE_PORT/  (user service on :$USERS_PORT). Ctrl-C stops both."
wait -n "${pids[@]}"
