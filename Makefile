# Two commands do all the set-up: `make run` and `make test`. See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

# Test environment: a fixed sealing key; PostgreSQL/Redis/S3 come from the caller (.ci/run sets them).
TEST_ENV := DJANGO_SECRET_KEY=test-secret-key SEALING_KEY=dGVzdC1vbmx5LXNlYWxpbmcta2V5LTMyLWJ5dGVzISE= \
	PLATFORM_SIGNING_KEY=dGVzdC1vbmx5LXBsYXRmb3JtLXNpZ25pbmcta2V5ISE= \
	DJANGO_SETTINGS_MODULE=trading.settings

# The embedded default for `make run`: SQLite, in-memory channel layer, Celery eager, objects on local disk.
RUN_ENV := DJANGO_DEBUG=$${DJANGO_DEBUG:-1} DJANGO_SECURE_COOKIES=$${DJANGO_SECURE_COOKIES:-0} MALLOC_MMAP_THRESHOLD_=1048576

.PHONY: run test pytest lint venv clean frontend frontend-test node-check

# The web UI (frontend/web, Vue 3 + Vite): `npm ci` only when node_modules is missing or the lock file changed, the
# build only when a source changed. Django serves frontend/web/dist (settings.WEB_UI_DIR).
WEB := frontend/web
WEB_DEPS := $(WEB)/node_modules/.installed
WEB_SOURCES := $(shell find $(WEB)/src $(WEB)/public -type f 2>/dev/null) $(addprefix $(WEB)/,index.html vite.config.ts tsconfig.json package.json)
NPM := npm --prefix $(WEB) --no-audit --no-fund --loglevel=error

node-check:
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "make: node (>= 20.19) and npm are required for the web UI in $(WEB), and are missing: install them (Debian: apt-get install nodejs npm)" >&2; exit 1; }
	@node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a < 20 || (a === 20 && b < 19)) { console.error("make: node " + process.version + " is too old for the web UI (Vite needs >= 20.19)"); process.exit(1); }'

$(WEB_DEPS): $(WEB)/package-lock.json | node-check
	@echo "web: npm ci ($(WEB))"
	@start=$$(date +%s); $(NPM) ci >/dev/null; echo "web: npm ci done in $$(( $$(date +%s) - start )) s"
	@touch $@

$(WEB)/dist/index.html: $(WEB_DEPS) $(WEB_SOURCES)
	@echo "web: type check and build ($(WEB)/dist)"
	@start=$$(date +%s); $(NPM) run -s build >/tmp/web-build.$$$$.log 2>&1 || { cat /tmp/web-build.$$$$.log; rm -f /tmp/web-build.$$$$.log; exit 1; }; \
	rm -f /tmp/web-build.$$$$.log; echo "web: built in $$(( $$(date +%s) - start )) s"

frontend: $(WEB)/dist/index.html

# Vitest: the sealing module against docs/sealed-bid-vectors.json, the API client.
frontend-test: $(WEB_DEPS)
	$(NPM) run -s test

$(VENV)/.base: requirements/base.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements/base.txt 2>&1 | { grep -v "^WARNING: Location" || true; }
	$(PY) -c "import django, channels, daphne, celery, minio, rest_framework"
	touch $@

$(VENV)/.test: $(VENV)/.base requirements/test.txt
	$(PY) -m pip install -q -r requirements/test.txt 2>&1 | { grep -v "^WARNING: Location" || true; }
	$(PY) -c "import pytest, pytest_django, time_machine, moto, flask_cors"
	touch $@

venv: $(VENV)/.base

run: $(VENV)/.base frontend
	mkdir -p var
	$(RUN_ENV) $(PY) manage.py migrate --noinput
	$(RUN_ENV) $(PY) manage.py load_demo
	$(RUN_ENV) $(PY) manage.py collectstatic --noinput -v 0
	@echo "Serving on http://$(HOST):$(PORT)/  (API /api/, docs /api/docs/, admin /admin/, websockets /ws/)"
	$(RUN_ENV) $(VENV)/bin/daphne -b $(HOST) -p $(PORT) trading.asgi:application

lint: $(VENV)/.test
	$(VENV)/bin/ruff check .
	$(TEST_ENV) $(PY) manage.py makemigrations --check --dry-run

test: $(VENV)/.test lint frontend-test frontend
	$(TEST_ENV) $(PY) -m pytest $(ARGS)

# Run a subset without reinstalling: make pytest ARGS="tests/trading -x"
pytest:
	$(TEST_ENV) $(PY) -m pytest $(ARGS)

clean:
	rm -rf $(VENV) var $(WEB)/node_modules $(WEB)/dist

# Sealed-bid upload and decryption against a local S3 (moto) and daphne; results in docs/performance.md.
# SIZE=256M make bench; ARGS="--client-concurrency 1,3" for more.
SIZE ?= 1G
.PHONY: bench
bench: $(VENV)/.test
	$(PY) -m bench.bids --size $(SIZE) $(ARGS)

# Expert draw on PostgreSQL: 100,000 experts, 50 bidders (bench/draw.py; results in docs/performance.md).
# The database in BENCH_DATABASE_URL (default trading_bench) is dropped and re-created: its name must contain "bench".
.PHONY: bench-draw
bench-draw: $(VENV)/.test
	DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/trading_bench} $(TEST_ENV) $(PY) -m bench.draw $(ARGS)

# Broadcast latency in one evaluation room: 500 websocket clients on daphne + the Redis channel layer, against a
# minimal echo-broadcast consumer in the same run (bench/ws_room.py; results in docs/performance.md).
# The Redis database in BENCH_REDIS_URL (default redis://127.0.0.1:6379/7) is flushed before and after.
.PHONY: bench-ws
bench-ws: $(VENV)/.test
	$(TEST_ENV) $(PY) -m bench.ws_room --redis $${BENCH_REDIS_URL:-redis://127.0.0.1:6379/7} $(ARGS)

# A bid sealed and uploaded by the bidder's page in headless Chromium (/usr/bin/chromium), the tab's memory sampled:
# SIZE_SMALL (64M) then SIZE (1G) (bench/browser_upload.py; results in docs/performance.md). WEB_UI_DIR=... uses
# another build of the web UI instead of frontend/web/dist.
SIZE_SMALL ?= 64M
.PHONY: bench-browser
bench-browser: $(VENV)/.test $(if $(WEB_UI_DIR),,frontend)
	$(PY) -m bench.browser_upload --size $(SIZE) --small $(SIZE_SMALL) $(ARGS)
