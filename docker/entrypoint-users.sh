#!/usr/bin/env bash
# User service entrypoint: gunicorn runs the Alembic migrations as the app starts.
set -euo pipefail
cd "$(dirname "$0")/.."

eval "$(python docker/dburl.py USERS_DATABASE_URL)"

exec gunicorn -c user_management_service/gunicorn_conf.py "user_management_service:create_app()"
