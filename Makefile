PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/grader: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/grader
	$(BIN)/grader grade submissions/ --out reports/

test: $(BIN)/grader
	$(BIN)/ruff check grader tests benchmarks reference_solutions
	$(BIN)/python -m pytest -q

bench: $(BIN)/grader
	$(BIN)/python benchmarks/throughput.py

clean:
	rm -rf $(VENV) reports/*
