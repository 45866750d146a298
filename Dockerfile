# One image for every app process (web = daphne, worker/beat = celery, migrate); compose.yaml picks the command.

# The web UI (frontend/web): built with node, only its dist/ goes into the app image.
FROM node:20-slim AS web
WORKDIR /web
COPY frontend/web/package.json frontend/web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
# The sealing module's tests read the shared vectors from docs/; the build itself needs only the sources.
COPY frontend/web/ ./
RUN npm run build

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=trading.settings \
    DATA_DIR=/app/var

# Buffers of 1 MiB and more go back to the OS when freed: without it glibc keeps them and RSS creeps
# (docs/performance.md).
ENV MALLOC_MMAP_THRESHOLD_=1048576

# fonts-wqy-zenhei: a TrueType CJK font reportlab can embed, so Chinese text in generated PDFs is not blank
# (the built-in CID font STSong-Light is never embedded). Path: /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-zenhei \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app

WORKDIR /app

# Dependencies first so code changes do not reinstall them.
COPY requirements/base.txt requirements/base.txt
RUN pip install -r requirements/base.txt \
    && python -c "import django, channels, daphne, celery, minio, rest_framework"

# Code stays owned by root (read-only for the app user); only DATA_DIR is writable.
COPY . .
COPY --from=web /web/dist frontend/web/dist
RUN mkdir -p /app/var && chown app:app /app/var

USER 10001:10001

# Static files are baked into the image (served by WhiteNoise from $DATA_DIR/static).
# The keys below exist only for this one command: settings refuse to import without them when DEBUG is off.
# They are not ARG/ENV, so they are not stored in the image config; the runtime keys come from compose.yaml.
RUN DJANGO_SECRET_KEY=collectstatic-build-only \
    SEALING_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    python manage.py collectstatic --noinput -v 0

EXPOSE 8000

CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "trading.asgi:application"]
