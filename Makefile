# Two entry points for a fresh clone (see README): `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export PREFECT_SERVER_ANALYTICS_ENABLED := false
# Prefect's state: PREFECT_HOME, when unset, is ~/.local/state/bansos-merge/prefect (set by
# pipelines/__init__.py for every run, in and out of make); the tests use temporary folders.

.PHONY: demo test system-deps sample schemas clean

$(BIN)/bansos-merge: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# Merge the bundled synthetic sample, then score the run against its ground truth.
demo: $(BIN)/bansos-merge
	$(BIN)/bansos-merge run --config sample_data/merge.yaml
	$(BIN)/bansos-merge evaluate --run sample_data/out --truth sample_data

# Debian's chromium renders the report and drives the review app in the browser tests.
system-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: run 'sudo apt-get install chromium' (browser tests are skipped without it)"; fi; }

test: $(BIN)/bansos-merge system-deps
	$(BIN)/python -m pytest -q

# Regenerate the bundled sample (synthetic people only) and the published schemas.
sample: $(BIN)/bansos-merge
	rm -rf sample_data && $(BIN)/bansos-merge sample --people 3000 --seed 1 --out sample_data

schemas: $(BIN)/bansos-merge
	$(BIN)/python -m bansos_merge.schemas

clean:
	rm -rf $(VENV) sample_data/out
