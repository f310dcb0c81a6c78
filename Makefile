# One command each: `make demo` (set-up + the main job on an embedded default) and
# `make test` (set-up + the test suite). Everything installs into .venv/.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# The real participant CLI (evalai 1.3.18) lives in its own virtualenv: it needs click==6.7,
# which would break our own tools, and its pinned lxml does not build on Python 3.11, hence
# --no-deps plus the runtime dependencies it actually imports (see shared protocol notes, section 5).
EVALAI_VENV := .venv-evalai
EVALAI_STAMP := $(EVALAI_VENV)/.installed-stamp
# (setuptools, which supplies distutils on 3.12+, is not needed: Python 3.11 still has distutils.)
EVALAI_CLI_DEPS := click==6.7 beautifultable==0.7.0 validators==0.12.6 requests==2.34.2 \
	python-dateutil==2.9.0.post0 tqdm==4.70.1 termcolor==3.3.0 beautifulsoup4==4.15.0 \
	boto3==1.44.5 docker==7.2.0

.PHONY: setup setup-evalai-cli setup-browser demo test test-all test-docker test-vm bench lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch==2.13.0 resolves to the CPU wheel on disk; see README "Installing".
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup-evalai-cli: $(EVALAI_STAMP)

$(EVALAI_STAMP):
	rm -rf $(EVALAI_VENV)
	$(PYTHON) -m venv $(EVALAI_VENV)
	$(EVALAI_VENV)/bin/python -m pip install --quiet --no-deps evalai==1.3.18
	$(EVALAI_VENV)/bin/python -m pip install --quiet $(EVALAI_CLI_DEPS)
	touch $(EVALAI_STAMP)

# The site's browser tests drive Debian's Chromium through chromedriver. Installed here when
# missing and running as root with apt-get (CI runs as root); otherwise those tests skip.
# Quick when present: `command -v` only.
setup-browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium and chromium-driver (browser tests) ..."; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			chromium chromium-driver >/dev/null) || echo "could not install chromium: browser tests will skip"; \
	else echo "chromium/chromedriver missing: browser tests will skip (apt-get install chromium chromium-driver)"; fi

demo: $(STAMP)
	$(PY) -m demo

test: $(STAMP) $(EVALAI_STAMP) setup-browser
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -m "not slow" -q

test-all: $(STAMP) $(EVALAI_STAMP) setup-browser
	$(PY) -m pytest -q

# Not part of `test`: they need root (or a Docker engine), the network and minutes. Both build
# what they need with debootstrap and cache it in /var/cache/neuco-test-docker (README "Docker").
test-docker:
	tests/container/test-docker.sh

test-vm:
	tests/container/test-vm.sh

bench: $(STAMP)
	$(PY) bench/benchmark.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) $(EVALAI_VENV) demo-output bench-output .pytest_cache
