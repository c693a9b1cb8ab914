# The two Quick start commands (README): `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The viewer needs only the base install; tests and training need the `ml` (torch, onnx) and `dev` extras.
BASE_STAMP := $(VENV)/.installed-base
FULL_STAMP := $(VENV)/.installed-full

.PHONY: run test lint venv demo clean

run: $(BASE_STAMP)
	$(PY) -m cxrviewer

test: $(FULL_STAMP)
	$(VENV)/bin/ruff check cxrviewer tests bench scripts
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

lint: $(FULL_STAMP)
	$(VENV)/bin/ruff check cxrviewer tests bench scripts

venv: $(FULL_STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(BASE_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet --disable-pip-version-check -e .
	touch $@

$(FULL_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[ml,dev]'
	touch $@ $(BASE_STAMP)

# Regenerate the embedded synthetic demo study (resources/demo/).
demo: $(BASE_STAMP)
	$(PY) scripts/make_demo_study.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache
