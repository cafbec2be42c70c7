# Set-up and entry points. `make demo` and `make test` are the README's two commands.
VENV ?= .venv
PYTHON ?= python3

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed .dagster_home/dagster.yaml
	DAGSTER_HOME=$(CURDIR)/.dagster_home $(VENV)/bin/rostersync demo

test: $(VENV)/.installed
	bash .ci/install-postgres.sh
	bash .ci/install-chromium.sh
	bash .ci/install-nginx.sh
	$(VENV)/bin/pytest -n 2 --dist loadfile -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check rostersync_pipeline rostersync_pipeline_tests benchmarks

# A local Dagster instance (git-ignored) seeded once from deploy/local/dagster.yaml: telemetry
# off, one run per district. Without a DAGSTER_HOME, `dagster dev` would make a temporary one
# with telemetry on.
.dagster_home/dagster.yaml:
	mkdir -p $(@D)
	cp deploy/local/dagster.yaml $@

dev: $(VENV)/.installed .dagster_home/dagster.yaml
	DAGSTER_HOME=$(CURDIR)/.dagster_home $(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1

.PHONY: install demo test lint dev
