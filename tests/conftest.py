"""Test-wide fixtures: a local S3 endpoint for the whole run, a clean cache, and parties of every role."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests import factories

pytest_plugins = ["tests.s3server"]


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """Each test gets its own channel layer: a layer keeps locks and connections bound to the event loop that first
    used it, and every async test (and the browser tests' daphne thread) runs its own loop."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def _tasks_inline():
    """Tasks run inline, whatever the broker (tests/trading/test_celery.py starts a real worker where it matters)."""
    from trading.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = eager


@pytest.fixture
def parties(db):
    return factories.Parties.create()


@pytest.fixture
def client_for():
    """An API client signed in as `user` (None: anonymous)."""

    def make(user=None):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make
