# Entry points, used by the README and .ci/run: `make demo`, `make tour` and `make test`.
PYTHON ?= python3
VENV ?= venv
BIN := $(VENV)/bin

.PHONY: setup demo tour plan engine test crds charts

setup: $(VENV)/.installed crds charts

# Upstream CRD schemas for the offline plan's schema checks. Without network this prints one line
# (which custom resources stay unchecked, and the fix) and the rest still works: `|| true`, not `-`,
# so make adds no error line of its own to that one line.
crds: $(VENV)/.installed
	@$(BIN)/python -m stacks crds fetch || true

# The HyperPod Helm chart (published in no Helm repository) for `pulumi up` of a hyperpod stack.
# Without network this prints one line with the fix; the offline plan does not need it.
charts: $(VENV)/.installed
	@$(BIN)/python -m stacks charts fetch || true

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

ENGINE_SETUP := stacks/local_engine/setup_engine.sh

# The main job on embedded defaults, no cloud: the offline plan of the dev stack, then a small
# real tuning run (vLLM on this machine's CPU, the tiny model the project builds, 4 configurations).
demo: setup
	$(BIN)/python -m stacks plan --stack dev
	bash $(ENGINE_SETUP)
	$(BIN)/python -m stacks tune stacks/grids/tiny-cpu.yaml --target local --db tuning-runs/tiny-cpu.db

# Tuning end to end in 10 to 20 s with nothing to install: tune -> report -> capacity file -> a plan
# that rule C1 checks against it, on the stand-in engine (stacks/local_engine/stand_in.py; not real numbers).
tour: setup
	$(BIN)/python -m stacks.tour

plan: setup
	$(BIN)/python -m stacks plan --stack $(or $(STACK),dev)

engine:
	bash $(ENGINE_SETUP)

# Lint, format and types first (ruff and mypy: settings in pyproject.toml; docs/architecture.md, "Lint, format
# and types"), then unit tests on every core (pytest-xdist; each test owns its ports, folders and servers), then
# the real engine end to end, alone. pytest exits 5 when it collected no test: that is a failure here, not a pass.
test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -m "not engine" -n auto; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; [ $$rc -eq 0 ] || exit $$rc
	bash $(ENGINE_SETUP)
	LLM_SERVING_REQUIRE_ENGINE=1 $(BIN)/python -m pytest -m engine tests/engine; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no engine tests: failing"; exit 1; fi; exit $$rc
