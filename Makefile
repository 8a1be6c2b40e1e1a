# The two commands a newcomer needs: `make demo` and `make test`. Everything installs into .venv.
PY ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed-dev
INT_VENV := .venv-int
INT_STAMP := $(INT_VENV)/.installed
DEMO := $(CURDIR)/.demo

.PHONY: install demo test test-ui test-integrations bench lint docs clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: install
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	cd $(DEMO) && $(BIN)/python $(CURDIR)/examples/quickstart.py --learning_rate 0.01 --momentum 0.2
	cd $(DEMO) && $(BIN)/python $(CURDIR)/examples/quickstart.py --learning_rate 0.05 --momentum 0.9
	cd $(DEMO) && $(BIN)/python $(CURDIR)/examples/quickstart.py --learning_rate 0.001 --momentum 0.5 --architecture ResNet
	cd $(DEMO) && COLUMNS=160 $(BIN)/runstore ls
	cd $(DEMO) && COLUMNS=120 $(BIN)/runstore diff latest $$($(BIN)/runstore ls --json --sort +created_at --limit 1 | $(BIN)/python -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')

# three workers on two cores: much of the suite waits on subprocesses, servers and sleeps
test: install
	$(BIN)/python -m pytest -n 3

# The dashboard in a real browser: Debian's chromium driven by Playwright (which never downloads one of
# its own here: no `playwright install`). One worker: a handful of tests, each a server and a page.
test-ui: install
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver)
	RUNSTORE_UI_TESTS=1 $(BIN)/python -m pytest -p no:cacheprovider tests/ui

# Real ML libraries (torch, ...) in their own venv: large, so `make test` stays fast without them.
$(INT_STAMP): pyproject.toml
	$(PY) -m venv $(INT_VENV)
	$(INT_VENV)/bin/python -m pip install -q -U pip
	$(INT_VENV)/bin/python -m pip install -q -e '.[integrations]'
	touch $(INT_STAMP)

test-integrations: $(INT_STAMP)
	RUNSTORE_INTEGRATIONS=1 $(INT_VENV)/bin/python -m pytest tests/integrations

bench: install
	$(BIN)/python -m pip install -q -e '.[bench]'
	@# the sync benchmark compares with rsync -a (Debian's package; root can install it here)
	command -v rsync >/dev/null || (apt-get update -qq && apt-get install -y -qq rsync) || echo "no rsync: its comparison will read n/a"
	@# the bayes benchmark compares with W&B's sweep engine (`sweeps`, which pins numpy<2): its own venv
	test -f .venv-sweeps/.installed || ($(PY) -m venv .venv-sweeps && .venv-sweeps/bin/python -m pip install -q -U pip \
		&& .venv-sweeps/bin/python -m pip install -q 'sweeps==0.3.0' && touch .venv-sweeps/.installed) \
		|| echo "no W&B sweeps: the bayes comparison will read n/a"
	$(BIN)/python bench/run.py --write-results

# ruff (lint and format), the import layers (pyproject.toml [tool.importlinter]) and the types.
lint: install
	$(BIN)/ruff check runstore tests bench examples scripts
	$(BIN)/ruff format --check runstore tests bench examples scripts
	$(BIN)/lint-imports
	$(BIN)/mypy

docs: install
	$(BIN)/python scripts/gen_cli_docs.py > docs/CLI.md
	$(BIN)/python scripts/gen_settings_docs.py

clean:
	rm -rf $(VENV) $(INT_VENV) .venv-sweeps $(DEMO) .pytest_cache .ruff_cache
