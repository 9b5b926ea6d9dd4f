# Two commands set up a fresh machine (see README):
#   make demo   install into .venv and run the main job on built-in defaults
#   make test   install into .venv (with test extras) and run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= out

.PHONY: demo test test-slow test-browser bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch is pinned to 2.13.0 in pyproject.toml: pip takes the CPU wheel on local disk.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

demo: install
	mkdir -p $(OUT)
	$(BIN)/wideshot demo --out $(OUT)
	@echo "figures in $(OUT)/"

test: install
	$(BIN)/python -m pytest -q

test-slow: install
	$(BIN)/python -m pytest -q -m slow

# The live monitor page in a real headless browser (needs Debian's chromium).
test-browser: install
	$(BIN)/python -m pytest -q -m browser

bench: install
	$(BIN)/python benchmarks/bench_simulate.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
