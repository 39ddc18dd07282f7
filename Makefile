# Chip news monitor. `make demo` and `make test` each do their whole set-up on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt pyproject.toml | sha1sum | cut -c1-12)

# The local (embedded) profile: Airflow metadata in SQLite under var/airflow, the store in var/news.db,
# the bundled sample feeds served on loopback.
AIRFLOW_LOCAL_ENV := \
	AIRFLOW_HOME=$(CURDIR)/var/airflow \
	AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags \
	AIRFLOW__CORE__PLUGINS_FOLDER=$(CURDIR)/plugins \
	AIRFLOW__CORE__LOAD_EXAMPLES=False \
	AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=$${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-sqlite:///$(CURDIR)/var/airflow/airflow.db} \
	SAMPLE_PORT=$${SAMPLE_PORT:-8765} \
	NEWS_FEEDS_FILE=$${NEWS_FEEDS_FILE:-$(CURDIR)/config/feeds.sample.yaml} \
	NEWS_ALLOW_HOSTS=$${NEWS_ALLOW_HOSTS:-127.0.0.1:$${SAMPLE_PORT:-8765}} \
	PATH=$(CURDIR)/$(BIN):$$PATH

.PHONY: help install model demo up test lint typecheck pytest bench bench-scale peer-check clean

help:
	@echo "make demo   - run news_monitor once through Airflow on the bundled sample feeds (SQLite, Slack dry-run)"
	@echo "make test   - lint, type-check and the whole test suite (what CI runs)"
	@echo "make up     - airflow standalone with the project's DAGs on http://localhost:8080"
	@echo "make bench  - ingest, extraction, classification and console benchmarks (prints figures)"
	@echo "make bench-scale - news_monitor through a live Airflow on PostgreSQL for 100, 300, 1,000 loopback feeds"
	@echo "make model  - train the classifier if no model is promoted yet"
	@echo "make peer-check - parse feedparser's own test corpus (downloaded outside the repo) and compare"

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

model: $(STAMP)
	$(BIN)/python -m pipeline train --if-missing

demo: model
	@mkdir -p var/airflow
	@$(AIRFLOW_LOCAL_ENV) scripts/airflow-setup.sh
	@$(AIRFLOW_LOCAL_ENV) $(BIN)/python scripts/demo.py

up: model
	@mkdir -p var/airflow
	@$(AIRFLOW_LOCAL_ENV) scripts/airflow-setup.sh
	@$(AIRFLOW_LOCAL_ENV) scripts/standalone.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The suite runs on PYTEST_WORKERS processes (pytest-xdist; default: one per core, 0 = in this process).
# The tests that start a live scheduler (tests/live/) form one group and run one after another on one worker.
PYTEST_WORKERS ?= $(shell nproc 2>/dev/null || echo 1)

pytest: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup

test: lint typecheck pytest

bench: model
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.extraction
	$(BIN)/python -m bench.classify
	$(BIN)/python -m bench.hostile
	$(BIN)/python -m bench.console

# Not part of `make test`: starts Airflow on the local PostgreSQL (about 10 minutes). SIZES=100,300,1000,
# EXECUTOR=local|celery; results in var/bench/scale-<executor>.{md,json,png} (docs/scale.md).
SIZES ?= 100,300,1000
EXECUTOR ?= local
bench-scale: $(STAMP)
	nice $(BIN)/python -m bench.scale --sizes $(SIZES) --executor $(EXECUTOR)

# feedparser's test corpus stays outside the repository (PEER_CORPUS); see docs/parsing.md.
PEER_CORPUS ?= $(abspath $(CURDIR)/../peer-corpus)
PEER_TESTS := $(PEER_CORPUS)/feedparser-6.0.14/tests

peer-check: $(STAMP)
	@test -d $(PEER_TESTS) || { mkdir -p $(PEER_CORPUS) && \
		$(BIN)/python -m pip download --quiet feedparser==6.0.14 --no-binary :all: --no-deps -d $(PEER_CORPUS) && \
		tar xzf $(PEER_CORPUS)/feedparser-6.0.14.tar.gz -C $(PEER_CORPUS); }
	$(BIN)/python scripts/check_peer_corpus.py $(PEER_TESTS)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
