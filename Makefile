# lstm-text: every target creates the virtual environment first when it is missing.
#   make run    execute the main notebook headless on the bundled corpus (outputs in build/)
#   make test   the whole test suite, including the notebooks under nbval
#   make lab    open Jupyter Lab in the environment
#   make clean  remove the environment, caches and everything generated
#   (also: make experiments, make bench, make bench-quick, make notebook-outputs, make golden,
#    make student-copy; see README.md)
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.lstm-text-installed
OUT := build/run
# make run trains for EPOCHS epochs (about 4 minutes each on 2 cores: 14.5 minutes in all
# idle, 16.8 beside another job); the original schedule is `make run EPOCHS=40` (2.5 hours).
EPOCHS ?= 4

.PHONY: run test lab clean freeze venv notebook-outputs experiments bench bench-quick bench-torch golden

venv: $(STAMP)

$(STAMP): requirements.txt constraints.txt tools/install_theano.py tools/install_fuel.py
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else \
	  "lstm-text needs Python 3.11 (Theano 1.0.5 and numpy 1.23); found " + sys.version.split()[0] + \
	  " at " + sys.executable + ". Set PYTHON=/path/to/python3.11.")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(PY) tools/install_theano.py
	$(PY) tools/install_fuel.py --constraints constraints.txt
	touch $(STAMP)

run: $(STAMP)
	LSTM_EPOCHS=$(EPOCHS) $(PY) tools/run_notebook.py notebooks/lstm_text.ipynb --out $(OUT)

# Maintainers: re-run the notebook as `make run` does and commit its outputs.
notebook-outputs: $(STAMP)
	LSTM_EPOCHS=$(EPOCHS) $(PY) tools/run_notebook.py notebooks/lstm_text.ipynb --out $(OUT) --in-place

# The experiments notebook at full size (about 35 minutes); outputs in build/experiments.
experiments: $(STAMP)
	$(PY) tools/run_notebook.py notebooks/lstm_text_experiments.ipynb --out build/experiments

# Speed benchmark (prints a table; results in benchmarks/results/). PyTorch is an optional,
# benchmark-only dependency: installed here once when pip can get it, its rows skipped otherwise.
# torch 2.13 declares setuptools>=77 while the lock keeps 65.5 (Fuel's build needs it), so
# torch goes in without its dependency check, and its runtime dependencies under the lock.
# make bench-quick: about a minute (n_h 50, 1 thread), a smoke run that leaves latest.* alone.
bench-torch: $(STAMP)
	@$(PY) -c 'import torch' 2>/dev/null || \
	  ( $(PY) -m pip install --disable-pip-version-check -q --no-deps torch==2.13.0 && \
	    $(PY) -m pip install --disable-pip-version-check -q filelock 'sympy>=1.13.3' \
	      'networkx>=2.5.1' 'fsspec>=0.8.5' -c constraints.txt ) \
	  || echo "PyTorch is not available: the benchmark skips its rows"

bench: bench-torch
	$(PY) benchmarks/bench.py

bench-quick: bench-torch
	$(PY) benchmarks/bench.py --quick

test: $(STAMP)
	$(PY) -m pytest

# The student copy of the notebook (no outputs, the "Things to try" as exercise cells), made
# from notebooks/lstm_text.ipynb; tests/test_student_copy.py checks that it is up to date.
.PHONY: student-copy
student-copy: $(STAMP)
	$(PY) tools/make_student_copy.py

# As root (a container, a CI machine) Jupyter refuses to start without --allow-root.
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

# The lock keeps its header comment, and leaves out Fuel (built by tools/install_fuel.py) and
# what make bench installs for itself (torch comes from a local wheel path on some machines).
BENCH_ONLY := torch filelock fsspec mpmath networkx sympy
freeze: $(STAMP)
	{ grep '^#' constraints.txt; \
	  $(PY) -m pip freeze --all --exclude pip --exclude fuel $(addprefix --exclude ,$(BENCH_ONLY)) \
	    | $(PY) -c 'import sys; sys.stdout.writelines(sorted(sys.stdin, key=str.lower))'; \
	} > constraints.txt.new
	mv constraints.txt.new constraints.txt
	touch $(STAMP)  # the environment is what the new lock says: no reinstall needed

clean:
	rm -rf $(VENV) build .cache .pytest_cache notebooks/.ipynb_checkpoints
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# Golden numbers from the seed's own code on Python 2.7 + Theano 1.0.5 + Fuel 0.2.0 (needs
# python2.7; about 9 minutes from scratch): rewrites tests/golden/. See tools/original_stack/.
golden:
	PYTHON3=$(PYTHON) bash tools/original_stack/regenerate.sh
