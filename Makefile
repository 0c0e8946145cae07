# The two set-up commands of the README: `make demo` and `make test`.
# Both install what they need on a fresh Debian machine (as root: Debian packages; always: a virtualenv).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
# Chromium and its driver render images; the fonts draw every script's labels (CJK, emoji) and a clean UI face.
DEBIAN_PACKAGES := chromium chromium-driver fonts-noto-core fonts-noto-cjk fonts-noto-color-emoji fonts-inter

.PHONY: demo test test-sqlite test-postgres setup system-packages lint

demo: setup
	$(BIN)/python app.py demo

test: setup
	@echo "== tests on SQLite =="
	$(BIN)/python -m pytest
	@echo "== tests that use the database, on PostgreSQL ($(PG_TEST_URL)) =="
	TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m pytest

test-sqlite: setup
	$(BIN)/python -m pytest

test-postgres: setup
	TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .

setup: system-packages $(VENV)/.installed

system-packages:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "Missing Debian packages: $$missing (install them as root)"; exit 1; fi; \
		echo "Installing Debian packages: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@
