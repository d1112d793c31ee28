# lstm-text: every target creates the virtual environment first when it is missing.
#   make run    execute the main notebook headless on the bundled corpus (outputs in build/)
#   make test   the whole test suite, including the notebooks under nbval
#   make lab    open Jupyter Lab in the environment
#   make clean  remove the environment, caches and everything generated
#   (also: make experiments, make bench, make bench-quick, make notebook-outputs, make golden,
#    make student-copy, make test-browser, make study; see README.md)
#   Any target: PYTHON=python3.12 (or a path) picks the Python version; see below.
SHELL := /bin/bash
# Python 3.11, 3.12 and 3.13 are supported. Without PYTHON=, the newest python3.1x on PATH
# that runs (a pyenv shim for a version that is not active fails, and is skipped).
# 3.11 keeps the environment .venv and the lock constraints.txt; 3.12 and 3.13 have their own,
# .venv-3.12 and constraints-3.12.txt (and so on), so one never replaces another.
SUPPORTED := 3.13 3.12 3.11
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell bash tools/find_python.sh)
else
# PYTHON=python3.12 where that is a pyenv shim that refuses (installed, not active): pyenv's copy.
override PYTHON := $(shell bash tools/find_python.sh '$(PYTHON)')
endif
PYVER := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
ifneq ($(filter $(PYVER),3.12 3.13),)
VENV := .venv-$(PYVER)
LOCK := constraints-$(PYVER).txt
BUILD_ARGS := --build-dir build/py$(PYVER)
else
VENV := .venv
LOCK := constraints.txt
BUILD_ARGS :=
endif
PY := $(VENV)/bin/python
STAMP := $(VENV)/.lstm-text-installed
OUT := build/run
# make run trains for EPOCHS epochs (about 4 minutes each on 2 cores: 14.5 minutes in all
# idle, 16.8 beside another job); the original schedule is `make run EPOCHS=40` (2.5 hours).
EPOCHS ?= 4

.PHONY: run test lab clean freeze venv notebook-outputs experiments bench bench-quick bench-torch golden

venv: $(STAMP)

$(STAMP): requirements.txt $(LOCK) tools/install_theano.py tools/install_fuel.py pyproject.toml \
          tools/patched_sdist.py
	@$(PYTHON) -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 13) else \
	  "lstm-text needs Python 3.11, 3.12 or 3.13 (Theano 1.0.5 and numpy 1.x); found " + \
	  sys.version.split()[0] + " at " + sys.executable + ". Set PYTHON=/path/to/python3.1x.")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -r requirements.txt -c $(LOCK)
	# The project's own code (src/lstm_text and notebooks/lstm_text_data.py), editable: see
	# pyproject.toml. No build isolation: the lock's setuptools and wheel build it, offline.
	$(PY) -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	$(PY) tools/install_theano.py $(if $(BUILD_ARGS),$(BUILD_ARGS)/theano)
	$(PY) tools/install_fuel.py --constraints $(LOCK) $(if $(BUILD_ARGS),$(BUILD_ARGS)/fuel)
	touch $(STAMP)

run: $(STAMP)
	LSTM_EPOCHS=$(EPOCHS) $(PY) tools/run_notebook.py notebooks/lstm_text.ipynb --out $(OUT)

# Maintainers: re-run the notebook as `make run` does and commit its outputs.
notebook-outputs: $(STAMP)
	LSTM_EPOCHS=$(EPOCHS) $(PY) tools/run_notebook.py notebooks/lstm_text.ipynb --out $(OUT) --in-place

# The experiments notebook at full size (about 30 minutes); outputs in build/experiments.
experiments: $(STAMP)
	$(PY) tools/run_notebook.py notebooks/lstm_text_experiments.ipynb --out build/experiments

# The third notebook: inside the trained model (the study's kept model); outputs in build/inside.
.PHONY: inside
inside: $(STAMP)
	$(PY) tools/run_notebook.py notebooks/lstm_text_inside.ipynb --out build/inside

# Speed benchmark (prints a table; results in benchmarks/results/). PyTorch is an optional,
# benchmark-only dependency: installed here once when pip can get it, its rows skipped otherwise.
# torch 2.13 declares setuptools>=77 while the lock keeps 65.5 (Fuel's build needs it), so
# torch goes in without its dependency check, and its runtime dependencies under the lock.
# make bench-quick: about a minute (n_h 50, 1 thread), a smoke run that leaves latest.* alone.
bench-torch: $(STAMP)
	@$(PY) -c 'import torch' 2>/dev/null || \
	  ( $(PY) -m pip install --disable-pip-version-check -q --no-deps torch==2.13.0 && \
	    $(PY) -m pip install --disable-pip-version-check -q filelock 'sympy>=1.13.3' \
	      'networkx>=2.5.1' 'fsspec>=0.8.5' -c $(LOCK) ) \
	  || echo "PyTorch is not available: the benchmark skips its rows"

bench: bench-torch
	$(PY) benchmarks/bench.py

bench-quick: bench-torch
	$(PY) benchmarks/bench.py --quick

test: $(STAMP)
	$(PY) -m pytest

# How far the model goes in STUDY_MINUTES of wall time: the one-C-Op trainer and PyTorch's, at
# once, one thread each (lstm_text.study; docs/study.md). Outputs and logs in build/study/.
# Run it again after a kill: each trainer resumes from its last checkpoint.
STUDY_MINUTES ?= 30
STUDY_ARGS ?=
.PHONY: study
study: bench-torch
	mkdir -p build/study
	OPENBLAS_NUM_THREADS=1 $(PY) -m lstm_text.study --trainer fast --minutes $(STUDY_MINUTES) \
	  --out build/study/fast $(STUDY_ARGS) > build/study/fast.log 2>&1 & fast=$$!; \
	OPENBLAS_NUM_THREADS=1 $(PY) -m lstm_text.study --trainer torch --minutes $(STUDY_MINUTES) \
	  --out build/study/torch $(STUDY_ARGS) > build/study/torch.log 2>&1 & torch=$$!; \
	wait $$fast; a=$$?; wait $$torch; b=$$?; \
	tail -n 1 build/study/fast.log build/study/torch.log; test $$a = 0 && test $$b = 0

# Maintainers: copy the finished study's logs, kept model and plot into docs/study/.
.PHONY: study-docs
study-docs: $(STAMP)
	$(PY) -m lstm_text.study --publish build/study/fast build/study/torch --out docs/study

# The browser test alone: installs Debian's chromium (as root) and Playwright's Python package
# into the environment, then opens the notebook in JupyterLab in headless Chromium (about 30 s
# with a warm compile cache). `make test` skips it where Playwright is not installed.
.PHONY: test-browser
test-browser: $(STAMP)
	bash tools/install_browser_test.sh $(VENV)
	$(PY) -m pytest -rs -m browser tests/test_browser.py

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
	{ grep '^#' $(LOCK); \
	  $(PY) -m pip freeze --all --exclude pip --exclude fuel $(addprefix --exclude ,$(BENCH_ONLY)) \
	    | $(PY) -c 'import sys; sys.stdout.writelines(sorted(sys.stdin, key=str.lower))'; \
	} > $(LOCK).new
	mv $(LOCK).new $(LOCK)
	touch $(STAMP)  # the environment is what the new lock says: no reinstall needed

# The environment this Python uses (.ci/run asks): make -s venv-path [PYTHON=...]
.PHONY: venv-path
venv-path:
	@echo $(VENV)

clean:
	rm -rf $(VENV) build .cache .pytest_cache notebooks/.ipynb_checkpoints
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# Golden numbers from the seed's own code on Python 2.7 + Theano 1.0.5 + Fuel 0.2.0 (needs
# python2.7; about 9 minutes from scratch): rewrites tests/golden/. See tools/original_stack/.
golden:
	PYTHON3=$(PYTHON) bash tools/original_stack/regenerate.sh
