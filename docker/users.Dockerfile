# syntax=docker/dockerfile:1
# User service image. Build from the repository root:
#   docker build -f docker/users.Dockerfile -t medtriage-users .
# PYTHON_IMAGE is the base of both stages. BUILD_IMAGE (default: the same) is the base of the
# build stage only, e.g. one that also trusts a build proxy's CA: none of it reaches the image.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG BUILD_IMAGE=${PYTHON_IMAGE}

# --- requirements: pyproject's dependency groups as pip requirement lists ---------------
# Its own stage, so that the pip layers below depend on the lists, not on the whole
# pyproject.toml: editing anything else there (tool settings, package list) reuses them.
# The same in all three Dockerfiles, like the first pip layer of inference and trainer: the
# layer cache then holds TensorFlow once for both.
FROM ${BUILD_IMAGE} AS requirements
WORKDIR /src
COPY pyproject.toml docker/requirements.py ./
RUN python requirements.py pyproject.toml > core.txt \
 && python requirements.py pyproject.toml serve > serve.txt \
 && python requirements.py pyproject.toml train > train.txt

# --- build: the web dependencies (pyproject's core list) in a virtual environment --------
# The project itself is not installed (its sources are copied below); no model runtime here.
FROM ${BUILD_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY requirements.lock ./
COPY --from=requirements /src/core.txt ./
RUN pip install -c requirements.lock -r core.txt \
 && pip uninstall --yes --quiet pip

# --- runtime: the virtual environment and the user service sources, unprivileged ---------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/home/app \
    USERS_HOST=0.0.0.0 \
    USERS_PORT=8001
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY docker/entrypoint-users.sh docker/dburl.py docker/healthcheck.py ./docker/
COPY common ./common
COPY user_management_service ./user_management_service
COPY templates ./templates
COPY static ./static
# The local database and key directory is the only writable place.
RUN mkdir -p /app/.data && chown app:app /app/.data
USER 10001:10001
EXPOSE 8001
# Docker health means "ready": /readyz answers 200 once migrations ran.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "/app/docker/healthcheck.py", "http://127.0.0.1:8001/readyz"]
ENTRYPOINT ["/app/docker/entrypoint-users.sh"]
