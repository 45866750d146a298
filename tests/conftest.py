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
