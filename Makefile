# Two entry points, used by the README and .ci/run: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= venv
BIN := $(VENV)/bin

.PHONY: setup demo plan test

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# The main job on embedded defaults: the offline plan of the dev stack (no cloud, no credentials).
demo: setup
	$(BIN)/python -m stacks plan --stack dev

plan: setup
	$(BIN)/python -m stacks plan --stack $(or $(STACK),dev)

# pytest exits 5 when it collected no test: that is a failure here, not a pass.
test: setup
	$(BIN)/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc
