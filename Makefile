# Two commands do everything on a fresh Debian 12 machine: `make demo` and `make test`.
# Each installs what is missing (apt packages when root, .venv, the project) and then runs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TOUR_DIR ?= tour

.PHONY: demo test bench lint setup system tour clean i18n install uninstall

demo: setup
	$(PY) -m kiosk demo --tour-out $(TOUR_DIR)

test: setup
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

bench: setup
	$(PY) -m bench

lint: setup
	$(VENV)/bin/ruff check .

tour: setup
	$(PY) -m kiosk tour --out $(TOUR_DIR)

# Regenerates the compiled translations from the .po files.
i18n: setup
	$(PY) -m kiosk.i18n compile

setup: system $(STAMP)

system:
	@bash scripts/setup-system.sh

$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

clean:
	rm -rf $(VENV) build *.egg-info $(TOUR_DIR) .pytest_cache .ruff_cache

# Installs the kiosk on this machine (as root): user, /opt/kiosk, /etc/kiosk, udev, kiosk.service.
# DESTDIR=DIR installs into a staging root instead. See docs/deployment.md.
install:
	DESTDIR="$(DESTDIR)" bash scripts/install.sh

# Reverses `make install`; keeps /etc/kiosk and /var/lib/kiosk unless PURGE=1.
uninstall:
	DESTDIR="$(DESTDIR)" PURGE="$(PURGE)" bash scripts/uninstall.sh
