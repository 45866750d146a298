"""The one settings module. Every value comes from the environment (see docs/operations.md).

With nothing set, the platform runs embedded: SQLite, in-memory channel layer, Celery eager,
object store on local disk. DATABASE_URL, REDIS_URL and S3_* switch to the production engines.
"""

import base64
import hashlib
import re
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from trading.env import database_from_url, env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "dev-only-insecure-key-do-not-use-in-production" if DEBUG else None)
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
# Reverse proxies (addresses or CIDR blocks) whose X-Forwarded-For is believed when a member signs in at an evaluation
# venue (evaluation.views.client_address). Empty: the connecting address only.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "channels",
    "trading",
    "audit",
    "notices",
    "bidding",
    "experts",
    "evaluation",
    "realtime",
    "supervision",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "audit.context.RequestContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "trading.urls"
ASGI_APPLICATION = "trading.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}")
DATABASES = {"default": database_from_url(DATABASE_URL)}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Writers queue instead of failing under daphne's threads.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "trading.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# Chinese first, English available; stored in UTC, shown in Asia/Shanghai.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
# The web UI built by Vite (frontend/web, `make frontend`): its assets are served under /static/web/.
# WEB_UI_DIR: another build directory (e.g. `vite build --outDir`), for parallel builds that must not share dist/.
WEB_UI_DIR = Path(env_str("WEB_UI_DIR", str(BASE_DIR / "frontend" / "web" / "dist")))
STATICFILES_DIRS = [("web", WEB_UI_DIR)] if WEB_UI_DIR.is_dir() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

REDIS_URL = env_str("REDIS_URL", None)

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        # redis-py 8 raises instead of waiting once the pool is full; 100 is far too few.
                        "max_connections": 1000,
                        # No socket timeout (docs/architecture.md, "Redis channel layer"): each receive is a BZPOPMIN
                        # that Redis ends after 5 s, which redis-py 8's default 5 s timeout races; and any timeout
                        # sends through asyncio.wait_for, which on Python 3.11 can swallow a closing consumer's
                        # cancellation. A dead Redis is noticed by TCP keepalive (about 45 s) instead.
                        "socket_timeout": None,
                        "socket_connect_timeout": 5,
                        "socket_keepalive": True,
                    }
                ]
            },
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "memory://")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", CELERY_BROKER_URL == "memory://")
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL or "cache+memory://")
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "sweep-deadlines": {"task": "trading.tasks.sweep_deadlines", "schedule": env_int("SWEEP_SECONDS", 30, minimum=1)},
    "supervision-scan": {"task": "supervision.tasks.scan", "schedule": env_int("SUPERVISION_SCAN_SECONDS", 300, minimum=1)},
    "deliver-regional": {"task": "trading.tasks.deliver_regional", "schedule": env_int("REGIONAL_SWEEP_SECONDS", 15, minimum=1)},
}

# The regional trading platform (docs/regional-exchange.md): pushes are always written to the outbox and sent
# when REGIONAL_URL is set; CENTRE_CODE names this centre in them.
REGIONAL_URL = env_str("REGIONAL_URL", "")
if REGIONAL_URL and not re.match(r"https?://", REGIONAL_URL):
    raise ImproperlyConfigured(f"REGIONAL_URL={REGIONAL_URL!r} must be an http:// or https:// URL")
CENTRE_CODE = env_str("CENTRE_CODE", "450102")
REGIONAL_TIMEOUT = env_int("REGIONAL_TIMEOUT", 10, minimum=1)
REGIONAL_RETRY_MAX_SECONDS = env_int("REGIONAL_RETRY_MAX_SECONDS", 600, minimum=10)
# OCDS open data (docs/open-data.md): each lot's ocid is this prefix, a hyphen and its transaction code.
OCDS_PREFIX = env_str("OCDS_PREFIX", "ocds-xxxxxx")
if not re.fullmatch(r"ocds-[a-z0-9]{6}", OCDS_PREFIX):
    raise ImproperlyConfigured(f"OCDS_PREFIX={OCDS_PREFIX!r} must be an ocid prefix such as ocds-213czf")

# Object store: MinIO/S3 when S3_ENDPOINT is set, else a directory on local disk.
S3_ENDPOINT = env_str("S3_ENDPOINT", None)
S3_ACCESS_KEY = env_str("S3_ACCESS_KEY", "")
S3_SECRET_KEY = env_str("S3_SECRET_KEY", "")
if S3_ENDPOINT and not (S3_ACCESS_KEY and S3_SECRET_KEY):
    raise ImproperlyConfigured("S3_ENDPOINT is set but S3_ACCESS_KEY or S3_SECRET_KEY is missing")
S3_BUCKET = env_str("S3_BUCKET", "trading")
S3_SECURE = env_bool("S3_SECURE", False)
S3_REGION = env_str("S3_REGION", "us-east-1")
# Where browsers reach the store (host[:port], e.g. the platform's own host behind deploy/nginx.conf): presigned
# download and part-upload URLs are signed for it. Unset: for S3_ENDPOINT itself.
S3_PUBLIC_ENDPOINT = env_str("S3_PUBLIC_ENDPOINT", "") or None
if S3_PUBLIC_ENDPOINT and not re.fullmatch(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?", S3_PUBLIC_ENDPOINT
):
    raise ImproperlyConfigured(f"S3_PUBLIC_ENDPOINT={S3_PUBLIC_ENDPOINT!r} must be host[:port], without scheme or path")
S3_PUBLIC_SECURE = env_bool("S3_PUBLIC_SECURE", S3_SECURE)
# Seconds to wait for CompleteMultipartUpload, which joins all parts before answering; every other store request
# gives up after 20 s without an answer.
S3_COMPLETE_TIMEOUT = env_int("S3_COMPLETE_TIMEOUT", 300, minimum=1)
OBJECT_STORE_DIR = Path(env_str("OBJECT_STORE_DIR", str(DATA_DIR / "objects")))
SIGNED_LINK_SECONDS = env_int("SIGNED_LINK_SECONDS", 300, minimum=10)


def _sealing_key() -> bytes:
    """32-byte key that seals enrolments and their audit entries until the bid deadline."""
    raw = env_str("SEALING_KEY", None)
    if raw is None:
        if not DEBUG:
            raise ImproperlyConfigured("SEALING_KEY (base64 of 32 random bytes) is required when DJANGO_DEBUG is off")
        return hashlib.sha256(b"sealing:" + SECRET_KEY.encode()).digest()
    try:
        key = base64.b64decode(raw, validate=True)
    except ValueError:
        raise ImproperlyConfigured("SEALING_KEY is not valid base64") from None
    if len(key) != 32:
        raise ImproperlyConfigured("SEALING_KEY must decode to exactly 32 bytes")
    return key


SEALING_KEY = _sealing_key()


def _platform_signing_key() -> bytes:
    """32-byte Ed25519 seed with which the platform signs bid receipts (回执)."""
    raw = env_str("PLATFORM_SIGNING_KEY", None)
    if raw is None:
        if not DEBUG:
            raise ImproperlyConfigured(
                "PLATFORM_SIGNING_KEY (base64 of a 32-byte Ed25519 seed) is required when DJANGO_DEBUG is off"
            )
        return hashlib.sha256(b"platform-signing:" + SECRET_KEY.encode()).digest()
    try:
        key = base64.b64decode(raw, validate=True)
    except ValueError:
        raise ImproperlyConfigured("PLATFORM_SIGNING_KEY is not valid base64") from None
    if len(key) != 32:
        raise ImproperlyConfigured("PLATFORM_SIGNING_KEY must decode to exactly 32 bytes")
    return key


PLATFORM_SIGNING_KEY = _platform_signing_key()

# Sealed bids go straight from the bidder to the object store in parts of this size (S3 minimum 5 MiB).
BID_PART_SIZE = env_int("BID_PART_SIZE", 16 * 1024 * 1024, minimum=5 * 1024 * 1024)
BID_MAX_SIZE = env_int("BID_MAX_SIZE", 4 * 1024**3, minimum=1)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first so that an anonymous request gets 401 with WWW-Authenticate, not 403.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "trading.api.Pagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "trading.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"login": env_str("LOGIN_THROTTLE_RATE", "10/min")},
}

SPECTACULAR_SETTINGS = {
    "TITLE": "公共资源交易中心 电子招投标与远程评标平台 API",
    "DESCRIPTION": "Remote electronic tendering and bid evaluation for a public resource trading centre.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "LotStatusEnum": "trading.models.LotStatus",
        "ReviewStatusEnum": "trading.models.Review.Status",
        "ObjectionStatusEnum": "trading.models.Objection.Status",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# TrueType CJK font embedded in generated PDFs (the opening record); Debian package fonts-wqy-zenhei.
PDF_CJK_FONT = env_str("PDF_CJK_FONT", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")

# How drawn experts are notified (evaluation/notify.py): a dotted path to a class with send(expert, message).
EXPERT_NOTIFIER = env_str("EXPERT_NOTIFIER", "evaluation.notify.ConsoleNotifier")
