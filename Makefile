# Two commands do everything on a fresh Debian 12 machine: `make demo` and `make test`.
# Each installs what is missing (apt packages when root, .venv, the project) and then runs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TOUR_DIR ?= tour
, := ,

.PHONY: demo test bench soak fuzz crawl crawl-es crawl-en lint setup system tour clean i18n install uninstall

demo: setup
	$(PY) -m kiosk demo --tour-out $(TOUR_DIR)

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest

bench: setup
	$(PY) -m bench

# The long versions of the chaos, fuzz and crawler tests (`make test` runs short ones).
# SOAK_SECONDS bounds the soak; FUZZ_EXAMPLES is the examples per property (at least 100,000).
SOAK_SECONDS ?= 600
FUZZ_EXAMPLES ?= 100000
soak: setup
	KIOSK_SOAK_SECONDS=$(SOAK_SECONDS) $(PY) -m pytest -m soak -q -s

fuzz: setup
	KIOSK_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -m fuzz -q -s

# Spanish and English crawl side by side (a process each, one per core); both must pass.
CRAWL_PROCEDURES ?= 10000
crawl: setup
	$(MAKE) --no-print-directory -j2 crawl-es crawl-en
crawl-es crawl-en: crawl-%:
	KIOSK_CRAWL_PROCEDURES=$(CRAWL_PROCEDURES) KIOSK_CRAWL_MODES=$(if $(filter es,$*),0$(,)2,1$(,)3) \
		$(PY) -m pytest -m crawl -q -s -p no:cacheprovider tests/ui/test_crawl.py

lint: setup
	$(VENV)/bin/ruff check .

tour: setup
	$(PY) -m kiosk tour --out $(TOUR_DIR)

# Regenerates the compiled translations from the .po files.
i18n: setup
	$(PY) -m kiosk.core.i18n compile

setup: system $(STAMP)

system:
	@bash scripts/setup-system.sh

$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

clean:
	rm -rf $(VENV) build *.egg-info $(TOUR_DIR) .pytest_cache .ruff_cache .mypy_cache

# Installs the kiosk on this machine (as root): user, /opt/kiosk, /etc/kiosk, udev, kiosk.service.
# DESTDIR=DIR installs into a staging root instead. See docs/deployment.md.
install:
	DESTDIR="$(DESTDIR)" bash scripts/install.sh

# Reverses `make install`; keeps /etc/kiosk and /var/lib/kiosk unless PURGE=1.
uninstall:
	DESTDIR="$(DESTDIR)" PURGE="$(PURGE)" bash scripts/uninstall.sh
