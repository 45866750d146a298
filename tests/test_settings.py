"""Settings come from typed environment variables and fail loudly on bad values (trading/env.py, trading/settings.py)."""

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from trading.env import database_from_url, env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VALID_SEALING_KEY = base64.b64encode(bytes(range(32))).decode()
VAR = "TRADING_TEST_VALUE"


# --- env_bool ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("0", False), ("true", True), ("false", False), ("TRUE", True), (" False ", False), ("on", True), ("", False)],
)
def test_env_bool_accepts(monkeypatch, raw, expected):
    monkeypatch.setenv(VAR, raw)
    assert env_bool(VAR, not expected) is expected


def test_env_bool_refuses_maybe(monkeypatch):
    monkeypatch.setenv(VAR, "maybe")
    with pytest.raises(ImproperlyConfigured) as info:
        env_bool(VAR, False)
    assert str(info.value) == "TRADING_TEST_VALUE='maybe' is not a boolean (use 1/0, true/false)"


def test_env_bool_default_and_required(monkeypatch):
    monkeypatch.delenv(VAR, raising=False)
    assert env_bool(VAR, True) is True
    assert env_bool(VAR, False) is False
    with pytest.raises(ImproperlyConfigured) as info:
        env_bool(VAR)
    assert str(info.value) == "Environment variable TRADING_TEST_VALUE is required"


# --- env_int, env_str, env_list ------------------------------------------------------------------


def test_env_int_reads_and_checks_the_minimum(monkeypatch):
    monkeypatch.setenv(VAR, "30")
    assert env_int(VAR, 5, minimum=1) == 30
    monkeypatch.setenv(VAR, "1")
    assert env_int(VAR, 5, minimum=1) == 1
    monkeypatch.setenv(VAR, "-3")
    assert env_int(VAR, 5) == -3

    monkeypatch.setenv(VAR, "0")
    with pytest.raises(ImproperlyConfigured) as info:
        env_int(VAR, 5, minimum=1)
    assert str(info.value) == "TRADING_TEST_VALUE=0 is below the minimum 1"

    monkeypatch.setenv(VAR, "thirty")
    with pytest.raises(ImproperlyConfigured) as info:
        env_int(VAR, 5, minimum=1)
    assert str(info.value) == "TRADING_TEST_VALUE='thirty' is not an integer"

    monkeypatch.delenv(VAR)
    assert env_int(VAR, 5, minimum=1) == 5
    with pytest.raises(ImproperlyConfigured):
        env_int(VAR)


def test_env_str_and_env_list(monkeypatch):
    monkeypatch.delenv(VAR, raising=False)
    assert env_str(VAR, None) is None
    assert env_str(VAR, "fallback") == "fallback"
    assert env_list(VAR, ["a"]) == ["a"]
    with pytest.raises(ImproperlyConfigured):
        env_str(VAR)
    monkeypatch.setenv(VAR, " example.cn, ,127.0.0.1 ,")
    assert env_list(VAR, []) == ["example.cn", "127.0.0.1"]
    assert env_str(VAR) == " example.cn, ,127.0.0.1 ,"


# --- database_from_url ---------------------------------------------------------------------------


def test_database_from_postgres_url():
    url = "postgres://trader:p%40ss%3Aw%2Frd%23@db.example.cn:6543/trading_prod?sslmode=require&connect_timeout=5"
    assert database_from_url(url) == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "trading_prod",
        "USER": "trader",
        "PASSWORD": "p@ss:w/rd#",
        "HOST": "db.example.cn",
        "PORT": "6543",
        "OPTIONS": {"sslmode": "require", "connect_timeout": "5"},
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "pgsql"])
def test_database_from_postgres_url_without_port_or_password(scheme):
    config = database_from_url(f"{scheme}://postgres@127.0.0.1/trading")
    assert (config["ENGINE"], config["NAME"], config["USER"], config["PASSWORD"], config["HOST"], config["PORT"]) == (
        "django.db.backends.postgresql",
        "trading",
        "postgres",
        "",
        "127.0.0.1",
        "",
    )
    assert config["OPTIONS"] == {}


def test_database_from_postgres_url_needs_a_database_name():
    with pytest.raises(ImproperlyConfigured) as info:
        database_from_url("postgres://postgres@127.0.0.1:5432/")
    assert str(info.value) == "DATABASE_URL 'postgres://postgres@127.0.0.1:5432/' names no database"


def test_database_from_sqlite_url():
    assert database_from_url("sqlite:////srv/trading/var/db.sqlite3") == {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": "/srv/trading/var/db.sqlite3",
    }
    assert database_from_url("sqlite:///var/db.sqlite3") == {"ENGINE": "django.db.backends.sqlite3", "NAME": "var/db.sqlite3"}
    assert database_from_url("sqlite:///%E6%95%B0%E6%8D%AE/db.sqlite3")["NAME"] == "数据/db.sqlite3"


@pytest.mark.parametrize("url", ["mysql://root@127.0.0.1/trading", "db.sqlite3", "redis://127.0.0.1:6379/0"])
def test_database_from_url_refuses_other_schemes(url):
    with pytest.raises(ImproperlyConfigured) as info:
        database_from_url(url)
    assert "is not supported (postgres or sqlite)" in str(info.value)


# --- The settings module, imported afresh -------------------------------------------------------

_CONFIGURED = (
    "DJANGO_",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_",
    "S3_",
    "SEALING_KEY",
    "PLATFORM_SIGNING_KEY",
    "BID_",
    "DATA_DIR",
    "OBJECT_STORE_DIR",
    "SIGNED_LINK_SECONDS",
    "SWEEP_SECONDS",
    "LOGIN_THROTTLE_RATE",
    "LOG_LEVEL",
    "PYTEST_",
)


def _setup(tmp_path, **variables) -> subprocess.CompletedProcess:
    """`django.setup()` in a fresh interpreter with only `variables` configured."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(_CONFIGURED)}
    env.update(DJANGO_SETTINGS_MODULE="trading.settings", DATA_DIR=str(tmp_path), **variables)
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DEBUG, len(settings.SEALING_KEY), settings.DATABASES['default']['ENGINE'], settings.S3_ENDPOINT)"
    )
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=BASE_DIR, capture_output=True, text=True, timeout=120)


def _refused(result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode == 1, result.stdout
    last = result.stderr.strip().splitlines()[-1]
    assert last == f"django.core.exceptions.ImproperlyConfigured: {message}"


def test_production_needs_a_secret_key(tmp_path):
    _refused(
        _setup(tmp_path, DJANGO_DEBUG="0", SEALING_KEY=VALID_SEALING_KEY),
        "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off",
    )
    # Unset and empty are the same.
    _refused(
        _setup(tmp_path, DJANGO_DEBUG="0", DJANGO_SECRET_KEY="", SEALING_KEY=VALID_SEALING_KEY),
        "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off",
    )


def test_debug_must_be_a_boolean(tmp_path):
    _refused(_setup(tmp_path, DJANGO_DEBUG="maybe"), "DJANGO_DEBUG='maybe' is not a boolean (use 1/0, true/false)")


@pytest.mark.parametrize(
    ("sealing_key", "message"),
    [
        (base64.b64encode(b"\x00" * 16).decode(), "SEALING_KEY must decode to exactly 32 bytes"),
        (base64.b64encode(b"\x00" * 33).decode(), "SEALING_KEY must decode to exactly 32 bytes"),
        ("not base64 at all!", "SEALING_KEY is not valid base64"),
        (None, "SEALING_KEY (base64 of 32 random bytes) is required when DJANGO_DEBUG is off"),
    ],
)
def test_sealing_key_must_be_32_bytes(tmp_path, sealing_key, message):
    variables = {"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "a-real-secret-key"}
    if sealing_key is not None:
        variables["SEALING_KEY"] = sealing_key
    _refused(_setup(tmp_path, **variables), message)


@pytest.mark.parametrize(
    ("signing_key", "message"),
    [
        (base64.b64encode(b"\x00" * 31).decode(), "PLATFORM_SIGNING_KEY must decode to exactly 32 bytes"),
        (None, "PLATFORM_SIGNING_KEY (base64 of a 32-byte Ed25519 seed) is required when DJANGO_DEBUG is off"),
    ],
)
def test_platform_signing_key_must_be_32_bytes(tmp_path, signing_key, message):
    variables = {"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "a-real-secret-key", "SEALING_KEY": VALID_SEALING_KEY}
    if signing_key is not None:
        variables["PLATFORM_SIGNING_KEY"] = signing_key
    _refused(_setup(tmp_path, **variables), message)


@pytest.mark.parametrize("keys", [{}, {"S3_ACCESS_KEY": "minio"}, {"S3_SECRET_KEY": "minio-secret"}])
def test_s3_endpoint_needs_both_keys(tmp_path, keys):
    result = _setup(
        tmp_path,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="a-real-secret-key",
        SEALING_KEY=VALID_SEALING_KEY,
        S3_ENDPOINT="127.0.0.1:9000",
        **keys,
    )
    _refused(result, "S3_ENDPOINT is set but S3_ACCESS_KEY or S3_SECRET_KEY is missing")


def test_valid_production_settings_load(tmp_path):
    result = _setup(
        tmp_path,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="a-real-secret-key",
        SEALING_KEY=VALID_SEALING_KEY,
        PLATFORM_SIGNING_KEY=VALID_SEALING_KEY,
        DATABASE_URL="postgres://trader:secret@db.internal:5432/trading",
        S3_ENDPOINT="minio.internal:9000",
        S3_ACCESS_KEY="minio",
        S3_SECRET_KEY="minio-secret",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False 32 django.db.backends.postgresql minio.internal:9000"


def test_debug_runs_embedded_with_nothing_else_set(tmp_path):
    result = _setup(tmp_path, DJANGO_DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True 32 django.db.backends.sqlite3 None"
