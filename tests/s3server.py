"""pytest plugin: a real S3 HTTP endpoint for the whole run, and the object store pointed at it.

With S3_ENDPOINT in the environment (CI against MinIO) the settings already name it; otherwise an
in-process moto server listens on a free loopback port. Either way, for the whole session,
get_store() is the MinioStore talking HTTP to that endpoint. Enable with
`pytest_plugins = ["tests.s3server"]` in tests/conftest.py.
"""

import logging
import os

import pytest
from django.conf import settings
from django.test import override_settings

from trading.objectstore import LocalStore, get_store


@pytest.fixture(scope="session")
def s3_endpoint():
    if os.environ.get("S3_ENDPOINT"):
        yield {
            "endpoint": settings.S3_ENDPOINT,
            "access_key": settings.S3_ACCESS_KEY,
            "secret_key": settings.S3_SECRET_KEY,
            "bucket": settings.S3_BUCKET,
            "secure": settings.S3_SECURE,
            "region": settings.S3_REGION,
        }
        return

    from moto.server import ThreadedMotoServer

    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.WARNING)  # one INFO line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield {
            "endpoint": f"{host}:{port}",
            "access_key": "test-access-key",
            "secret_key": "test-secret-key",
            "bucket": "trading-test",
            "secure": False,
            "region": "us-east-1",
        }
    finally:
        server.stop()
        werkzeug.setLevel(level)


@pytest.fixture(scope="session", autouse=True)
def _use_s3(s3_endpoint):
    # pytest-django's `settings` fixture is function-scoped; override_settings restores on disable().
    override = override_settings(
        S3_ENDPOINT=s3_endpoint["endpoint"],
        S3_ACCESS_KEY=s3_endpoint["access_key"],
        S3_SECRET_KEY=s3_endpoint["secret_key"],
        S3_BUCKET=s3_endpoint["bucket"],
        S3_SECURE=s3_endpoint["secure"],
        S3_REGION=s3_endpoint["region"],
    )
    override.enable()
    try:
        get_store().ensure_bucket()
        yield
    finally:
        override.disable()


@pytest.fixture
def local_store(tmp_path):
    store = LocalStore(tmp_path / "objects")
    store.ensure_bucket()
    return store
