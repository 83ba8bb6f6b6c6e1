# Two commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: demo test bench clean system-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(TEST_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install -q -e '.[test,bench,deep,catboost]'
	touch $@

demo: $(STAMP)
	$(BIN)/winback demo

# Chromium and PostgreSQL from Debian, for the browser and PostgreSQL tests
system-deps:
	bash scripts/install-system-deps.sh

test: $(TEST_STAMP) system-deps
	$(BIN)/python -m pytest -q

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/cdnow.py
	$(BIN)/python benchmarks/featurize.py --rows 20000000
	$(BIN)/python benchmarks/layouts.py
	$(BIN)/python benchmarks/workflow.py
	$(BIN)/python benchmarks/serve.py
	$(BIN)/python benchmarks/serve_table.py
	$(BIN)/python benchmarks/explain.py

clean:
	rm -rf $(VENV) winback-demo build *.egg-info src/*.egg-info test-artifacts
