# Two entry points (README): `make demo` runs the whole pipeline on the embedded demo corpus,
# `make test` runs the test suite. Both create the virtual environment when it is missing.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
WORKDIR ?= out/demo

.PHONY: demo test venv clean

$(BIN)/thresher: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

venv: $(BIN)/thresher

demo: venv
	$(BIN)/thresher demo --workdir $(WORKDIR)

test: venv
	$(BIN)/python -m pytest

clean:
	rm -rf out
