# The README's commands. Each target installs what it needs into .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test test-fast bench lint check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)  ## create .venv and install the project with its test tools

demo: $(STAMP)  ## the main job: the before/after golden-path run
	$(BIN)/python -m reference_backend.demo

test: $(STAMP)  ## the whole test suite, slow load tests included
	$(BIN)/python -m pytest

test-fast: $(STAMP)  ## the suite without the slow load runs
	$(BIN)/python -m pytest -m 'not slow'

bench: $(STAMP)  ## the benchmarks behind the README's performance figures
	$(BIN)/python benchmarks/bench_factory.py

lint: check
check: $(STAMP)  ## format check, lint, types
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
