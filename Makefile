# lstm-text: every target creates the virtual environment first when it is missing.
#   make run    execute the main notebook headless on the bundled corpus (outputs in build/)
#   make test   the whole test suite, including the notebooks under nbval
#   make lab    open Jupyter Lab in the environment
#   make clean  remove the environment, caches and everything generated
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.lstm-text-installed
OUT := build/run

.PHONY: run test lab clean freeze venv

venv: $(STAMP)

$(STAMP): requirements.txt constraints.txt tools/install_fuel.py
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else \
	  "lstm-text needs Python 3.11 (Theano 1.0.5 and numpy 1.23); found " + sys.version.split()[0] + \
	  " at " + sys.executable + ". Set PYTHON=/path/to/python3.11.")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(PY) tools/install_fuel.py --constraints constraints.txt
	touch $(STAMP)

run: $(STAMP)
	$(PY) tools/run_notebook.py notebooks/lstm_text.ipynb --out $(OUT)

test: $(STAMP)
	$(PY) -m pytest

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

freeze: $(STAMP)
	$(PY) -m pip freeze --exclude fuel > constraints.txt.new && mv constraints.txt.new constraints.txt

clean:
	rm -rf $(VENV) build .cache .pytest_cache notebooks/.ipynb_checkpoints
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
