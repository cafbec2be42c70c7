# Set-up and entry points. `make demo` and `make test` are the README's two commands.
VENV ?= .venv
PYTHON ?= python3

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/rostersync demo

test: $(VENV)/.installed
	bash .ci/install-postgres.sh
	bash .ci/install-chromium.sh
	$(VENV)/bin/pytest -n 2 --dist loadfile -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check rostersync_pipeline rostersync_pipeline_tests benchmarks

dev: $(VENV)/.installed
	$(VENV)/bin/dagster dev -w workspace.yaml

.PHONY: install demo test lint dev
