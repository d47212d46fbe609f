PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench bytecode clean messages

$(BIN)/grader: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The sandbox's workers start with PYTHONDONTWRITEBYTECODE, so they only read bytecode: it is
# compiled here (changed files only), before any grader or worker starts.
bytecode: $(BIN)/grader
	$(BIN)/python -m compileall -q grader reference_solutions

demo: bytecode
	$(BIN)/grader grade submissions/ --out reports/

test: bytecode
	$(BIN)/ruff check grader tests benchmarks reference_solutions
	$(BIN)/python -m pytest -q

bench: bytecode
	$(BIN)/python benchmarks/throughput.py
	$(BIN)/python benchmarks/diagnosis.py
	$(BIN)/python benchmarks/inspections.py

clean:
	rm -rf $(VENV) reports/*

# After changing a student-facing text: the catalogs get its new msgid, to translate (the
# assignments' catalogs are kept by hand; tests/test_i18n.py says what is missing).
messages: $(BIN)/grader
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location -w 100 --omit-header -o grader/locale/grader.pot .
	$(BIN)/pybabel update -D grader -i grader/locale/grader.pot -d grader/locale -w 100 --ignore-obsolete
	rm grader/locale/grader.pot
