# The two set-up commands of the README: `make demo` and `make test`.
# Both install what they need on a fresh Debian machine (as root: Debian packages; always: a virtualenv).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
# Chromium and its driver render images; the fonts draw every script's labels (CJK, emoji) and a clean UI face;
# Java runs the Selenium Grid server that the Grid tests start (a hub and two nodes on loopback).
DEBIAN_PACKAGES := chromium chromium-driver fonts-noto-core fonts-noto-cjk fonts-noto-color-emoji fonts-inter \
	openjdk-17-jre-headless
# The Selenium Grid 4 server jar, as the npm package @nightwatch/selenium-server ships it (pinned: the jar's name
# carries the version). Kept in the project, out of git; the Grid tests look for it here.
SELENIUM_SERVER_VERSION := 4.20.0
GRID_DIR := .grid
GRID_JAR := $(GRID_DIR)/selenium-server-$(SELENIUM_SERVER_VERSION).jar

.PHONY: demo test test-sqlite test-postgres setup system-packages grid-server lint

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

setup: system-packages grid-server $(VENV)/.installed

# Slim Debian images have no /usr/share/man/man1, without which Java's package fails to set up.
system-packages:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "Missing Debian packages: $$missing (install them as root)"; exit 1; fi; \
		echo "Installing Debian packages: $$missing"; \
		mkdir -p /usr/share/man/man1; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

grid-server: $(GRID_JAR)

# `npm pack` fetches the package's tarball, which already holds the jar under lib/; we take the jar and nothing
# else. `npm install` would run the package's install script, which downloads the jar again from GitHub (not
# reachable from every machine, and not needed) with dependencies that serve only that download.
$(GRID_JAR):
	@command -v npm >/dev/null 2>&1 || { \
		if [ "$$(id -u)" != 0 ]; then echo "npm is missing (install Debian's npm as root)"; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }
	rm -rf $(GRID_DIR)/download && mkdir -p $(GRID_DIR)/download
	cd $(GRID_DIR)/download && npm pack --silent @nightwatch/selenium-server@$(SELENIUM_SERVER_VERSION) >/dev/null
	tar -xzf $(GRID_DIR)/download/*.tgz -C $(GRID_DIR)/download --strip-components=2 \
		package/lib/selenium-server-$(SELENIUM_SERVER_VERSION).jar
	mv $(GRID_DIR)/download/selenium-server-$(SELENIUM_SERVER_VERSION).jar $@  # whole or not at all
	rm -rf $(GRID_DIR)/download

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@
