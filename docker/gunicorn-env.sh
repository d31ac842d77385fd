# Sourced by the entrypoints: turn GUNICORN_WORKERS / GUNICORN_THREADS (set per service in
# the ECS task definitions) into command-line settings, which win over gunicorn_conf.py.
args=()
if [ -n "${GUNICORN_WORKERS:-}" ]; then args+=(--workers "$GUNICORN_WORKERS"); fi
if [ -n "${GUNICORN_THREADS:-}" ]; then args+=(--threads "$GUNICORN_THREADS"); fi
if [ ${#args[@]} -gt 0 ]; then
  export GUNICORN_CMD_ARGS="${GUNICORN_CMD_ARGS:-} ${args[*]}"
fi
unset args
