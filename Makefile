# `make demo` and `make test` set up .venv on first use, then run.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("triagebot needs Python >= 3.11") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres]'
	touch $@ $(VENV)/.installed-run

demo: $(VENV)/.installed-run
	$(BIN)/triagebot demo

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

PLAYGROUND := tests/teams/playground

# Microsoft 365 Agents Playground (Teams end-to-end tests); skipped with a message without npm.
$(PLAYGROUND)/node_modules/.installed: $(PLAYGROUND)/package.json $(PLAYGROUND)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix $(PLAYGROUND) --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the Teams playground tests will be skipped"; fi

test: lint $(PLAYGROUND)/node_modules/.installed
	$(BIN)/pytest

bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench.bench_store --write

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
