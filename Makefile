# ctr — one entry point for setting up, running and testing the pipeline.
# `make demo` and `make test` work on a fresh machine: they create .venv and install what they need.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_ARGS ?=
PYTEST_ARGS ?=

.PHONY: help setup demo test test-fast broker crd clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s "$$(printf '\t')"

$(BIN)/.installed: pyproject.toml
	@command -v java >/dev/null || { echo "Java 17 is missing: apt-get install -y openjdk-17-jre-headless"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

setup: $(BIN)/.installed ## create .venv with ctr and everything the tests need

demo: setup ## run the producer and the CTR job on this machine against an embedded broker (DEMO_ARGS="--duration 2m")
	$(BIN)/ctr demo $(DEMO_ARGS)

test: setup ## run the whole test suite, slow tests included
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: setup ## run the tests not marked slow
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

broker: setup ## run the embedded broker in the foreground (Ctrl-C stops it)
	$(BIN)/ctr broker

crd: setup ## regenerate the Producer CRD files from operator/crd.py
	$(BIN)/python -m ctr_operator.crd > k8s/producer-crd.yaml
	cp k8s/producer-crd.yaml helm/crds/producer-crd.yaml

clean: ## remove the virtualenv and local run data
	rm -rf $(VENV) .run
