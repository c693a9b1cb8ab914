# The two Quick start commands (README): `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The viewer needs only the base install; tests and training need the `ml` (torch, onnx) and `dev` extras.
BASE_STAMP := $(VENV)/.installed-base
FULL_STAMP := $(VENV)/.installed-full
PACKAGE_STAMP := $(VENV)/.installed-package
BENCH_STAMP := $(VENV)/.installed-bench
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
comma := ,
# Every install comes from a lock (lock/*.txt, `make lock`): exact versions with their sha256, made for
# Linux x86_64 and CPython 3.11. $(1): the lock; then the project itself, without dependencies. On
# another platform it stops, unless UNLOCKED=1: then pyproject.toml's ranges ($(2): extras; $(3):
# packages installed without their dependencies), unpinned, with a warning.
define install_locked
	@if $(PY) scripts/lock.py --platform; then \
		echo "pip install --require-hashes --no-deps -r $(1)"; \
		$(PIP) --require-hashes --no-deps -r $(1) && $(PIP) --no-deps -e .; \
	elif [ -n "$(UNLOCKED)" ]; then \
		echo "WARNING: UNLOCKED=1: installing pyproject.toml's ranges, not $(1): other versions than the" \
			"project's machines, and tests may fail (the demo study's)" >&2; \
		$(PIP) -e '.$(2)' $(if $(3),&& $(PIP) --no-deps $(3)); \
	else \
		echo "make: stopped: $(1) is for Linux x86_64, CPython 3.11 (PYTHON=python3.11)." \
			"Elsewhere, UNLOCKED=1 installs pyproject.toml's ranges instead, unpinned (README)" >&2; \
		exit 1; \
	fi
endef
# The viewer bundle (docs/packaging.md): name and version as cxrviewer.spec reads them.
BUNDLE := dist/$(shell sed -n 's/^name = "\(.*\)"/\1/p' pyproject.toml | head -1)-$(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)

# CI (.ci/run): the tests, then the bundle and its smoke test (about 2 min more; docs/packaging.md).
ci: test package package-test

.PHONY: run test lint venv bench-venv lock demo clean ci package package-test package-startup package-archive package-cuda release

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

# bench/maps.py's peers on top of the full install (grad-cam without its opencv-python: pyproject.toml).
bench-venv: $(BENCH_STAMP)

$(BASE_STAMP): lock/base.txt pyproject.toml | $(VENV)/bin/python
	$(call install_locked,lock/base.txt)
	touch $@

$(FULL_STAMP): lock/dev.txt pyproject.toml | $(VENV)/bin/python
	$(call install_locked,lock/dev.txt,[ml$(comma)dev])
	touch $@ $(BASE_STAMP)

$(PACKAGE_STAMP): lock/package.txt pyproject.toml | $(VENV)/bin/python
	$(call install_locked,lock/package.txt,[package])
	touch $@ $(BASE_STAMP)

$(BENCH_STAMP): lock/bench.txt pyproject.toml | $(VENV)/bin/python
	$(call install_locked,lock/bench.txt,[ml$(comma)dev$(comma)bench],grad-cam)
	touch $@ $(FULL_STAMP) $(BASE_STAMP)

# Refresh lock/*.txt: the newest releases pyproject.toml's ranges admit, for Linux x86_64, CPython 3.11
# (scripts/lock.py). Then `make test`; if the demo study's test fails, `make demo` and commit both.
lock:
	$(PYTHON) scripts/lock.py

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
