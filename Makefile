# Booking: the two commands are `make run` and `make test`.
# Both install what they need on a Debian or Ubuntu machine (as root, or with sudo):
# RabbitMQ (and PostgreSQL for the tests) from the OS packages, a virtualenv in .venv/.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= config.yaml
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_INSTALL := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends
PYTEST_ARGS ?=

.PHONY: run test test-fast lint bytecode diagrams plantuml bench system-packages test-packages postgres-package venv clean

# DB=postgres: every database on a PostgreSQL server of the project's own (data under
# var/postgres, stopped by Ctrl-C like the broker), with the PostgreSQL profile
ifeq ($(DB),postgres)
CONFIG := config/postgres.yaml
RUN_DB := --local-postgres
endif

run: venv bytecode system-packages $(if $(RUN_DB),postgres-package)
	$(BIN)/booking --config $(CONFIG) run $(RUN_DB) $(if $(SCALE),$(foreach s,$(SCALE),--scale $(s))) $(if $(CLUSTER),--cluster $(CLUSTER))

# the whole suite, in three parts side by side (tests/run.py); PYTEST_ARGS: pytest as given
test: venv bytecode system-packages test-packages lint
	$(if $(PYTEST_ARGS),$(BIN)/pytest $(PYTEST_ARGS),$(BIN)/python tests/run.py)

# the quick loop while coding: unit and integration tests on SQLite, without the
# whole stacks, PostgreSQL or the browser (make test runs everything)
test-fast: venv bytecode system-packages lint
	$(BIN)/python tests/run.py --fast -q

# the project's modules compiled once: where PYTHONDONTWRITEBYTECODE is set (CI machines
# often set it), each of the many processes a run or the suite starts would compile them
# again (about 0.2 s of CPU each); pip compiles the packages it installs
bytecode: venv
	@$(BIN)/python -m compileall -q booking entrypoints tests >/dev/null

# the linter's rules are in pyproject.toml
lint: venv
	$(BIN)/ruff check .

bench: venv bytecode system-packages bench-packages
	@$(BIN)/python -c 'import matplotlib' 2>/dev/null || { echo "Installing matplotlib…"; $(BIN)/pip install -q matplotlib; }
	$(BIN)/python tests/bench/bench.py $(BENCH_ARGS)

venv: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Booking needs Python 3.11 or newer ($(PYTHON) is $$($(PYTHON) --version))"; exit 1; }
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { $(call apt,python3-venv) && $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade "pip>=23" "setuptools>=64,<81" wheel
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

# apt-get update once, then install the packages that are missing
define apt
	{ [ -n "$$APT_UPDATED" ] || $(SUDO) apt-get update -q >/dev/null; } && $(APT_INSTALL) $(1) >/dev/null
endef

# RabbitMQ; the fonts every PDF embeds (Latin, Greek, Cyrillic; Japanese and Chinese)
system-packages:
	@[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || { echo "Installing RabbitMQ…"; $(call apt,rabbitmq-server); }
	@[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] && [ -f /usr/share/fonts/opentype/ipafont-gothic/ipag.ttf ] || \
		{ echo "Installing fonts…"; $(call apt,fonts-dejavu-core fonts-ipafont-gothic); }

# the UML diagrams of docs/diagrams/, generated from the code (docs/architecture.md),
# and PNGs of them to look at in var/test/artifacts/diagrams/
diagrams: venv plantuml
	$(BIN)/booking diagrams --png var/test/artifacts/diagrams

# PlantUML lays out all but sequence diagrams with Graphviz, only a recommendation of its package
plantuml:
	@command -v plantuml >/dev/null && command -v dot >/dev/null || \
		{ echo "Installing PlantUML and Graphviz…"; $(call apt,plantuml graphviz); }

# PostgreSQL (a throwaway server per run); qpdf and pdftoppm check and picture the
# PDFs, zbarimg reads the confirmation's QR code back; Chromium runs the browser
# tests (driven by Playwright, which uses this one); PlantUML renders the diagrams
test-packages: plantuml postgres-package
	@command -v qpdf >/dev/null && command -v pdftoppm >/dev/null && command -v zbarimg >/dev/null || \
		{ echo "Installing qpdf, poppler-utils and zbar-tools…"; $(call apt,qpdf poppler-utils zbar-tools); }
	@[ -x /usr/bin/chromium ] || { echo "Installing Chromium…"; $(call apt,chromium); }

postgres-package:
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		{ echo "Installing PostgreSQL…"; $(call apt,postgresql); }

bench-packages:
	@command -v wrk >/dev/null || { echo "Installing wrk…"; $(call apt,wrk); }

clean:
	rm -rf $(VENV) var
