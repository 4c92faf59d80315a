# Quickstart: `make run` opens the product, `make test` runs the whole suite.
# Both create .venv from nothing and install the project with its test extra.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dask]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python main.py

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q --timeout=60

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_threads.py
	$(BIN)/python benchmarks/bench_mp.py
	$(BIN)/python benchmarks/bench_workers.py
	QT_QPA_PLATFORM=offscreen $(BIN)/python benchmarks/bench_console.py

clean:
	rm -rf $(VENV) build *.egg-info
