# distillguard: every set-up step lives here, so a fresh clone needs only `make demo` / `make test`.
# System requirements: Python 3.11, Java 17 and Maven (for the local Apache Kafka broker),
# Go (only to build helm for the chart checks, when helm is not on PATH).

SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
DG := $(VENV)/bin/distillguard
STAMP := $(VENV)/.installed
OUT := out

export PYTHON := $(abspath $(PY))

.PHONY: venv test test-fast demo demo-local kafka-up kafka-down bench fuzz clean lint

$(STAMP): pyproject.toml constraints.txt
	@if [ ! -x $(PY) ]; then (command -v python3.11 >/dev/null && python3.11 -m venv $(VENV)) || python3 -m venv $(VENV); fi
	$(PY) -m pip install -q --disable-pip-version-check -U pip
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

kafka-up: $(STAMP)
	@bash deploy/kafka/kafka.sh up

kafka-down:
	@bash deploy/kafka/kafka.sh down

# The whole suite; the broker fixture starts (and stops) the local broker itself if none runs.
test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests models --doctest-modules --durations=15

# Unit tests only (no broker).
test-fast: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests/models tests/streams -m "not broker"

demo: $(STAMP)
	$(PY) -m streams.demo --mode kafka --out $(OUT)/demo

demo-local: $(STAMP)
	$(PY) -m streams.demo --mode local --out $(OUT)/demo-local

# Figures, not tests: the engine in-process (µs/event), then the whole topology on the broker.
bench: $(STAMP)
	$(PY) bench/bench_engine.py
	$(DG) bench

fuzz: $(STAMP)
	DISTILLGUARD_FUZZ_EXAMPLES=20000 $(PY) -m pytest -q tests -k fuzz

lint: $(STAMP)
	$(PY) -m ruff check models streams tests || true

clean:
	rm -rf $(VENV) .cache/pip $(OUT) distillguard-data
