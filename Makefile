# One command to run the hub, one to test it. Both set up what is missing, and are quick the second time.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean setup

setup: $(STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip wheel

# Reinstall only when the project's dependencies change.
$(STAMP): pyproject.toml | $(VENV)/bin/python
	@echo "Installing walking-nas and its dependencies (llama.cpp builds from source the first time: a few minutes)..."
	$(BIN)/python -m pip install --quiet --editable '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/hub serve

lint: $(STAMP)
	$(BIN)/ruff check hub adapters devices memory tests bench
	$(BIN)/ruff format --check hub adapters devices memory tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/bench_serving.py

clean:
	rm -rf $(VENV)
