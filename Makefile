# The README's commands. Each target installs what it needs into .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CANONICAL := reference_backend.agents.supervisor.execution_engine_factory:ExecutionEngineFactory

.PHONY: setup demo test test-fast bench bench-scale baselines audit lint check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)  ## create .venv and install the project with its test tools

demo: $(STAMP)  ## the main job: legacy vs canonical, 50 users for 20 s each, side by side
	$(BIN)/goldenpath run --compare --users 50 --duration 20s

test: $(STAMP)  ## the whole test suite, slow load tests included
	$(BIN)/python -m pytest

test-fast: $(STAMP)  ## the suite without the slow load runs
	$(BIN)/python -m pytest -m 'not slow'

bench: $(STAMP)  ## the benchmarks behind the README's performance figures (about 4 minutes)
	$(BIN)/python benchmarks/bench_factory.py
	$(BIN)/python benchmarks/bench_analysis.py
	$(BIN)/python benchmarks/bench_ssot.py
	$(BIN)/python benchmarks/bench_harness_overhead.py

bench-scale: $(STAMP)  ## 5,000 concurrent WebSocket users held for 60 s (about 3 minutes)
	$(BIN)/python benchmarks/bench_concurrency.py

baselines: $(STAMP)  ## regenerate results/baselines: legacy and canonical, 3 runs each
	$(BIN)/python -m loadtests.baselines

audit: $(STAMP)  ## SSOT audit of the reference backend (canonical mode: one implementation)
	$(BIN)/goldenpath ssot reference_backend --pattern '*ExecutionEngineFactory' \
	    --canonical $(CANONICAL) --exclude 'reference_backend/legacy/*' --import-check

lint: check
check: $(STAMP)  ## format check, lint, types
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
