# Every target sets itself up: a fresh clone needs only Python 3.11+, make and git.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: venv test lint demo bench build clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

## All tests: linters, unit, integration (moto server), deploy end to end and the real layer build.
test: lint
	$(PY) -m pytest

## The main job on the built-in local setup: moto server, sample RAW databases, the handler twice.
demo: venv
	$(PY) demo.py

## Side-by-side benchmark against the peers at 50 ms and 0 ms per call; writes bench/results.json and bench/results-0ms.json.
bench: venv
	$(PY) bench/run.py

## publish/function.zip, the layer zips and manifest.json (see the README's Deployment section).
build: venv
	./build.sh --layer

clean:
	rm -rf $(VENV) publish build .pytest_cache .ruff_cache .hypothesis bench/.work
