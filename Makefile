# Two commands for a fresh machine: `make lab` (students) and `make test` (developers, CI).
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --quiet --disable-pip-version-check
# nbgrader runs the `alembic` command: this environment's bin/ must come first on PATH.
export PATH := $(abspath $(VENV))/bin:$(PATH)
export PYDEVD_DISABLE_FILE_VALIDATION := 1

LAB_ARGS ?=
# Jupyter refuses to run as root unless told (containers, CI machines often are root)
ROOT_ARGS := $(if $(filter 0,$(shell id -u)),--allow-root)
PYTEST_ARGS ?= -n 2 --dist loadgroup --durations=15

.PHONY: lab test install dev release lint clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --upgrade pip
	# the CPU build of PyTorch first: any other torch pulls gigabytes of CUDA wheels
	$(PIP) install torch==2.13.0
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install -e ".[dev]"
	touch $@

install: $(VENV)/.installed

dev: $(VENV)/.installed-dev

## make lab: set up, release the student notebooks if needed, start JupyterLab on notebooks/
lab: $(VENV)/.installed
	$(PY) -m cnncourse release --if-needed
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks $(ROOT_ARGS) $(LAB_ARGS)

## make test: set up with the dev extra and run the whole suite
test: $(VENV)/.installed-dev
	$(PY) -m pytest $(PYTEST_ARGS)

## make release: regenerate every student notebook from solutions/ (instructors)
release: $(VENV)/.installed
	$(PY) -m cnncourse release

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check cnncourse tests benchmarks

clean:
	rm -rf $(VENV) gradebook.db .pytest_cache
