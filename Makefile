# exportcast — the two commands a fresh machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RAW    ?= ../shared/data/raw
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export MPLBACKEND := Agg
# Prefect's temporary server may take longer than its default 20 s to answer on a busy machine
# (tests on two workers, each starting one): wait up to 3 minutes instead of failing.
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 180

.PHONY: install browser poppler run test test-fast lint lock snapshot snapshot-check bench clean

# requirements.lock pins every package (runtime + dev) with its hashes; exportcast itself is
# then installed editable without resolving anything again (docs/operations.md#dependencies).
$(VENV)/.installed: pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --require-hashes -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	@# bytecode of the project's own modules, written even where PYTHONDONTWRITEBYTECODE=1 (as
	@# in many containers): every command then reads it instead of compiling about 120 modules
	@# (0.6-0.8 s of CPU per process, docs/operations.md#timings)
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m compileall -q -j 0 configs features flows models reports exportcast
	@# the databases a machine's first run would otherwise create (about 7 s of a first cold run,
	@# docs/operations.md#timings): Prefect's temporary server's SQLite in $$PREFECT_HOME, migrated
	@# (a no-op when current; a database configured elsewhere is left alone), and the migrated
	@# MLflow store template new stores copy
	$(BIN)/python -m exportcast.flows.prefect_server
	$(BIN)/python -m exportcast.flows.store_template
	@touch $@

install: $(VENV)/.installed  ## create .venv and install exportcast with test tools

# Debian packages: chromium prints the report's PDF (`make run`) and drives the browser tests;
# poppler-utils (pdftoppm, pdftotext) checks the PDF in the tests. Installed only when missing
# (as root, no prompts; Playwright may not download its own browser here).
CHROMIUM := /usr/bin/chromium
define apt_need
	@test -x $(1) || { \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "$(1) is missing: run as root, or: sudo apt-get install $(2)" >&2; exit 1; \
	  fi; \
	  echo "installing Debian's $(2)"; \
	  apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(2); \
	}
endef

browser:
	$(call apt_need,$(CHROMIUM),chromium)

poppler:
	$(call apt_need,/usr/bin/pdftoppm,poppler-utils)

run: install browser  ## the main job on the embedded snapshot (Korea)
	$(BIN)/exportcast run

# The whole suite on two pytest-xdist workers (one per core). tests/conftest.py gives every
# test an xdist group (its file, or the shared session run it reads: each shared run is made
# on one worker only) and puts the heaviest groups first; --no-loadscope-reorder keeps that
# order. Measured times and the load they were measured under: docs/testing.md.
XDIST := -n 2 --dist loadgroup --no-loadscope-reorder
# Bytecode caches stay on for the tests even where the environment turns them off
# (PYTHONDONTWRITEBYTECODE=1, common in containers; Python reads an empty value as unset):
# without them both workers and every child process compile the project again and pytest
# rewrites every test module again on each worker (docs/testing.md, "Measured").
test test-fast: export PYTHONDONTWRITEBYTECODE =
test: install browser poppler  ## lint + the whole test suite (real data checks run when $(RAW) exists)
	$(BIN)/ruff check .
	EXPORTCAST_RAW=$(RAW) $(BIN)/python -m pytest $(XDIST)

# The unit and integration tiers: no whole flow, no browser page, nothing marked slow, on the
# same two workers. The tiers are in docs/testing.md. Chromium still prints the test report's PDF.
test-fast: install browser poppler  ## lint + the fast tiers (unit, integration)
	$(BIN)/ruff check .
	EXPORTCAST_RAW=$(RAW) $(BIN)/python -m pytest -m "not e2e and not slow" $(XDIST)

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

snapshot: install  ## rebuild data/snapshot from the upstream raw files
	$(BIN)/exportcast snapshot --raw $(RAW) --out data/snapshot

snapshot-check: install  ## rebuild into a temp folder and compare hashes with data/snapshot
	$(BIN)/exportcast snapshot --raw $(RAW) --out data/snapshot --check

clean:
	rm -rf $(VENV) outputs .pytest_cache .ruff_cache

# Regenerate requirements.lock after a change of pyproject.toml or constraints.txt (the pins):
# Linux x86-64, Python 3.11.7 (the tested interpreter), the dev extra, every hash of each pinned
# release on PyPI.
UV_VERSION := 0.13.9
lock: install  ## requirements.lock from pyproject.toml + constraints.txt (uv, with hashes)
	$(BIN)/python -m pip install -q uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml --extra dev -c constraints.txt --generate-hashes \
	  --python-version 3.11.7 --python-platform x86_64-unknown-linux-gnu \
	  --custom-compile-command "make lock" -o requirements.lock

$(VENV)/.bench-installed: $(VENV)/.installed
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,bench]'
	@touch $@

bench: $(VENV)/.bench-installed  ## accuracy/speed tables (benchmarks/, not tests)
	$(BIN)/python benchmarks/backtest.py
	$(BIN)/python benchmarks/split_rescore.py
	$(BIN)/python benchmarks/fta_track_record.py --sizes 100
	$(BIN)/python benchmarks/theta_fit.py --rounds 2 --step 3
	$(BIN)/python benchmarks/pipeline.py
