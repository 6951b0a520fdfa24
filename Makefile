# Every target creates .venv on first use; nothing relies on packages installed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: test lint demo fuzz bench bench-icount clean

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
	$(BIN)/lint-imports

test: lint
	$(BIN)/python fuzz/fuzz_sse.py --smoke --seconds 10
	$(BIN)/python -m pytest -q

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

# Instructions per event under valgrind: repeatable on a busy machine, unlike wall-clock figures.
bench-icount: $(STAMP)
	@command -v valgrind >/dev/null || { echo "bench-icount needs valgrind: sudo apt-get install -y valgrind"; exit 1; }
	$(BIN)/python bench/bench_sse.py --icount

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
