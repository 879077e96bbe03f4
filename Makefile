# make run   — set up .venv if needed and open the app on its default database
# make test  — set up .venv if needed and run the whole test suite (offscreen)
# make quick — the same without the tests marked slow
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run demo test quick lint dist smoke bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) main.py

demo: $(STAMP)
	$(PY) main.py --demo

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

quick: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -m "not slow"

lint: $(STAMP)
	$(PY) -m pip install --quiet ruff mypy
	$(PY) -m ruff check .
	$(PY) -m mypy
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q tests/test_architecture.py

dist: $(STAMP)
	$(PY) -m pip install --quiet "pyinstaller>=6.0"
	$(PY) -m PyInstaller --noconfirm --log-level WARN town_returns.spec

smoke: dist
	bash tools/smoke_bundle.sh

bench: $(STAMP)
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) build dist *.egg-info
