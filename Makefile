# timeshelf: `make run` starts the product, `make test` runs every check.
# Both install what they need: a virtualenv with the Python dependencies, and (as root,
# only when missing) Debian's nginx and PostgreSQL for the tests.

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
RUN_DIR ?= .run

.PHONY: venv system-deps run test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

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

run: venv
	@test -f $(RUN_DIR)/timeshelf.toml || $(VENV)/bin/timeshelf init $(RUN_DIR)
	$(VENV)/bin/timeshelf --config $(RUN_DIR)/timeshelf.toml serve

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
