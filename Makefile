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

.PHONY: run test pytest lint venv clean

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

run: $(VENV)/.base
	mkdir -p var
	$(RUN_ENV) $(PY) manage.py migrate --noinput
	$(RUN_ENV) $(PY) manage.py load_demo
	$(RUN_ENV) $(PY) manage.py collectstatic --noinput -v 0
	@echo "Serving on http://$(HOST):$(PORT)/  (API /api/, docs /api/docs/, admin /admin/, websockets /ws/)"
	$(RUN_ENV) $(VENV)/bin/daphne -b $(HOST) -p $(PORT) trading.asgi:application

lint: $(VENV)/.test
	$(VENV)/bin/ruff check .
	$(TEST_ENV) $(PY) manage.py makemigrations --check --dry-run

test: $(VENV)/.test lint
	$(TEST_ENV) $(PY) -m pytest $(ARGS)

# Run a subset without reinstalling: make pytest ARGS="tests/trading -x"
pytest:
	$(TEST_ENV) $(PY) -m pytest $(ARGS)

clean:
	rm -rf $(VENV) var

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
