import itertools

import pytest

from trading.models import User

_names = itertools.count(1)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_user():
    def make(role: str, **extra) -> User:
        return User.objects.create_user(username=f"{role}{next(_names)}", password="pw-for-tests-only", role=role, **extra)

    return make
