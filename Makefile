# The two Quick start commands (README): `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The viewer needs only the base install; tests and training need the `ml` (torch, onnx) and `dev` extras.
BASE_STAMP := $(VENV)/.installed-base
FULL_STAMP := $(VENV)/.installed-full
PACKAGE_STAMP := $(VENV)/.installed-package
# The viewer bundle (docs/packaging.md): name and version as cxrviewer.spec reads them.
BUNDLE := dist/$(shell sed -n 's/^name = "\(.*\)"/\1/p' pyproject.toml | head -1)-$(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)

# CI (.ci/run): the tests, then the bundle and its smoke test (about 2 min more; docs/packaging.md).
ci: test package package-test

.PHONY: run test lint venv demo clean ci package package-test package-startup package-archive package-cuda release

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

$(PACKAGE_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[package]'
	touch $@ $(BASE_STAMP)

# The one-folder viewer bundle in $(BUNDLE)/ (PyInstaller, cxrviewer.spec; no PyTorch, no CUDA provider).
package: $(PACKAGE_STAMP)
	$(VENV)/bin/pyinstaller --noconfirm --clean --log-level WARN --workpath build/pyinstaller --distpath dist cxrviewer.spec
	@du -sh $(BUNDLE)

# Runs the built program offscreen on a real radiograph of ../shared/data: screenshot, analyze --csv
# (equal to the source install's numbers), models, the training refusal. Needs `make package` first.
package-test: $(BASE_STAMP)
	$(PY) scripts/package_smoke.py --bundle $(BUNDLE)

# Cold start of the bundle and of the source install to a shown window, on a virtual X display.
package-startup: $(BASE_STAMP)
	xvfb-run -a $(PY) scripts/package_smoke.py --bundle $(BUNDLE) --skip-commands --startup 5

# The end-user archive: bundle + install.sh (launcher and desktop entry) + icon, as .tar.gz.
package-archive: $(BASE_STAMP)
	$(PY) scripts/package_archive.py --bundle $(BUNDLE)

# The same, plus the CUDA provider add-on archive for GPU sites.
package-cuda: $(BASE_STAMP)
	$(PY) scripts/package_archive.py --bundle $(BUNDLE) --cuda

# Everything a release needs, in order (docs/packaging.md, "Release").
release: test package package-test package-startup package-cuda

# Regenerate the embedded synthetic demo study (resources/demo/).
demo: $(BASE_STAMP)
	$(PY) scripts/make_demo_study.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache
