# timeshelf: `make run` starts the product, `make test` runs every check.
# Both install what they need: a virtualenv with the Python dependencies, and (as root,
# only when missing) Debian's nginx, PostgreSQL and Chromium for the tests.

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
RUN_DIR ?= .run
# `make run LISTEN=HOST:PORT` serves elsewhere than the configuration's [server] listen.
LISTEN ?=
# `make token SOURCES=a,b DESCRIPTION=...`: an upload token for `make run`'s installation.
SOURCES ?= local
DESCRIPTION ?= uploads
TIMESHELF := $(VENV)/bin/timeshelf --config $(RUN_DIR)/timeshelf.toml
# The variables given other values than the defaults, so that a printed `make` works.
MAKE_VARS := $(if $(filter-out .venv,$(VENV)), VENV=$(VENV))$(if $(filter-out .run,$(RUN_DIR)), RUN_DIR=$(RUN_DIR))
# pip's output (and the machine's pip warnings) go to this log, shown only on failure.
INSTALL_LOG := $(VENV)/install.log

.PHONY: venv system-deps run token test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	@echo "installing the Python dependencies into $(VENV) (log: $(INSTALL_LOG))"
	@python3 -m venv $(VENV)
	@{ $(PY) -m pip install --upgrade pip && $(PY) -m pip install -e '.[dev]'; } \
	  >$(INSTALL_LOG) 2>&1 || { cat $(INSTALL_LOG) >&2; \
	  echo "installing into $(VENV) failed: the log above is in $(INSTALL_LOG)" >&2; exit 1; }
	@touch $(STAMP)

venv: $(STAMP)
	@:

system-deps:
	@if ! test -x /usr/bin/chromium; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (Debian package, for the web UI's browser tests)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "chromium is missing: install it (e.g. apt-get install chromium) and re-run" >&2; exit 1; \
	  fi; \
	fi
	@if ! command -v nginx >/dev/null 2>&1 && ! test -x /usr/sbin/nginx; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing nginx (Debian package)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null \
	      || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; \
	  else \
	    echo "nginx is missing: install it (e.g. apt-get install nginx-light) and re-run" >&2; exit 1; \
	  fi; \
	fi
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing PostgreSQL (Debian package; the tests start a private cluster)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else \
	    echo "PostgreSQL is missing: install it (e.g. apt-get install postgresql) and re-run" >&2; exit 1; \
	  fi; \
	fi

$(RUN_DIR)/timeshelf.toml: | $(STAMP)
	@out=$$($(VENV)/bin/timeshelf init $(RUN_DIR) 2>&1) || { echo "$$out" >&2; exit 1; }
	@echo "created $(RUN_DIR)/ (configuration, catalog, secret key); its commands run as e.g. $(TIMESHELF) list repos"

run: venv $(RUN_DIR)/timeshelf.toml
	@echo "an upload token: make token SOURCES=local$(MAKE_VARS) (or the command printed below)"
	@$(TIMESHELF) serve $(if $(LISTEN),--listen $(LISTEN))

token: venv $(RUN_DIR)/timeshelf.toml
	@$(TIMESHELF) create token --description "$(DESCRIPTION)" --sources $(SOURCES)

lint: venv
	$(VENV)/bin/ruff check generator uploader tests bench

typecheck: venv
	$(VENV)/bin/mypy

unit: venv system-deps
	$(VENV)/bin/pytest -q

test: lint typecheck unit

bench: venv system-deps
	$(PY) -m bench.run $(NAME) $(ARGS)

clean:
	rm -rf $(VENV) $(RUN_DIR) build dist *.egg-info
