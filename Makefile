# make run   — set up .venv if needed and open the app on its default database
# make test  — set up .venv if needed and run the whole test suite (offscreen)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run demo test lint dist smoke bench clean

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

lint: $(STAMP)
	$(PY) -m pip install --quiet ruff mypy
	$(PY) -m ruff check .
	$(PY) -m mypy

dist: $(STAMP)
	$(PY) -m pip install --quiet "pyinstaller>=6.0"
	$(PY) -m PyInstaller --noconfirm --log-level WARN town_returns.spec

smoke: dist
	bash tools/smoke_bundle.sh

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) build dist *.egg-info
