"""The object store's browser-facing settings (S3_PUBLIC_*) and completion timeout, read by trading/settings.py."""

import os
import subprocess
import sys

import pytest

from tests.test_settings import _CONFIGURED, BASE_DIR, _refused


def _store_settings(tmp_path, **variables) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith(_CONFIGURED)}
    env.update(DJANGO_SETTINGS_MODULE="trading.settings", DATA_DIR=str(tmp_path), DJANGO_DEBUG="1", **variables)
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.S3_PUBLIC_ENDPOINT, s.S3_PUBLIC_SECURE, s.S3_COMPLETE_TIMEOUT)"
    )
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=BASE_DIR, capture_output=True, text=True, timeout=120)


def test_defaults_sign_for_the_endpoint_itself(tmp_path):
    result = _store_settings(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None False 300"


def test_public_endpoint_and_its_scheme(tmp_path):
    result = _store_settings(
        tmp_path, S3_PUBLIC_ENDPOINT="tender.example.cn:8443", S3_PUBLIC_SECURE="1", S3_COMPLETE_TIMEOUT="900"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "tender.example.cn:8443 True 900"
    # The scheme follows S3_SECURE unless given; an empty value is the same as unset (compose passes "").
    result = _store_settings(tmp_path, S3_PUBLIC_ENDPOINT="", S3_SECURE="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None True 300"


@pytest.mark.parametrize("value", ["https://tender.example.cn", "tender.example.cn/trading", "tender.example.cn:port"])
def test_public_endpoint_must_be_host_and_port(tmp_path, value):
    _refused(
        _store_settings(tmp_path, S3_PUBLIC_ENDPOINT=value),
        f"S3_PUBLIC_ENDPOINT={value!r} must be host[:port], without scheme or path",
    )


def test_complete_timeout_must_be_positive(tmp_path):
    _refused(_store_settings(tmp_path, S3_COMPLETE_TIMEOUT="0"), "S3_COMPLETE_TIMEOUT=0 is below the minimum 1")
