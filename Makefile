# Two commands do everything on a fresh machine with Python 3.11+ and make:
#   make demo   set up .venv and run the demo against the bundled sandbox
#   make test   set up .venv with dev extras, then ruff, mypy (strict) and pytest
#   (make fuzz  the service's fuzzing, run long)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

CHROMIUM := /usr/bin/chromium

.PHONY: demo test lint typecheck pytest fuzz bench clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/remediator demo

test: $(STAMP) chromium lint typecheck pytest

# The console's browser tests need Debian's Chromium: installed with apt when we are root,
# otherwise those tests are skipped, and said so loudly here and in pytest's summary.
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing chromium for the browser tests (apt-get)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "*** could not install chromium: the browser tests will be SKIPPED ***"; \
	  else \
	    echo "*** $(CHROMIUM) is missing (apt-get install chromium): the browser tests will be SKIPPED ***"; \
	  fi; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check remediator tests bench
	$(BIN)/ruff format --check remediator tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# Two workers (pytest-xdist) on the 2-CPU machines CI runs on: much of the suite waits on
# servers, processes and sandboxes it starts, not on the CPU (7.7 -> 4.5 min there). The
# fuzzing's tally is kept per worker, so `make test` does not print it; `make fuzz` does.
pytest: $(STAMP)
	$(BIN)/pytest -n 2

# The fuzzing of tests/service/fuzz with many more examples (minutes, not seconds); prints the
# requests sent, the 5xx answers seen and the runs left unsettled.
fuzz: $(STAMP)
	REMEDIATOR_TEST_FUZZ=long $(BIN)/pytest tests/service/fuzz -q -p no:randomly -o timeout=3600

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
