"""PedsLink settings: one module, driven by environment variables.

Every value has a safe development default so that `make run` works on a fresh
machine (secrets are generated per install, never taken from the repository); production
sets DEBUG=0 and its secrets (see README, "Configuration").
"""

import ipaddress
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONCE, NONE, SELF, UNSAFE_EVAL, UNSAFE_INLINE, WASM_UNSAFE_EVAL
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from pedslink.keys import install_secret

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)

# Secrets: from the environment, else made once per install in SECRETS_DIR (pedslink/keys.py;
# `make run` and development). With DEBUG=0 and no SECRETS_DIR they must be in the environment:
# machines that share a database must share the keys. No key in the repository signs anything.
SECRETS_DIR = env("SECRETS_DIR", str(BASE_DIR / "var" / "secrets") if DEBUG else "")


def _secret(name: str) -> str:
    value = env(name)
    if value:
        return value
    if not SECRETS_DIR:
        raise ImproperlyConfigured(
            f"{name} must be set when DEBUG=0 (or SECRETS_DIR, to keep generated keys there)"
        )
    return install_secret(Path(SECRETS_DIR) / name.lower())


SECRET_KEY = _secret("SECRET_KEY")
# Keyed hash for national/insurance IDs: a separate key so that rotating
# SECRET_KEY (sessions) does not break cross-hospital matching.
PATIENT_ID_HMAC_KEY = _secret("PATIENT_ID_HMAC_KEY")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
# Where links in e-mails, text messages and DICOMweb answers point (pedslink.proxy.absolute_url).
# `make run` sets it to the web process's address: honcho gives every process its own PORT.
SITE_URL = env("SITE_URL", "http://127.0.0.1:" + env("PORT", "8000"))
# Reverse proxies whose X-Real-IP / X-Forwarded-* headers are believed (pedslink/proxy.py):
# comma-separated addresses or networks. Empty: the peer's own address is the client's.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", "")
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError as _error:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_error}") from None

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "channels",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
    "core",
    "consult",
    "referrals",
    "viewer",
]

MIDDLEWARE = [
    "pedslink.proxy.ForwardedHeadersMiddleware",  # first: before anything reads those headers
    "django.middleware.security.SecurityMiddleware",
    "pedslink.headers.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.RequestIdMiddleware",
    "core.input_guard.NulRefusalMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "core.middleware.SessionIdleMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a lockout flagged during authentication into the login page's message.
    "axes.middleware.AxesMiddleware",
]

# DICOMweb requests with a bearer token (hospital systems) go through Django's handler with
# this list instead (pedslink/handlers.py): no session, CSRF, authentication middleware
# (the token is the principal), messages or login lockout; the same headers and checks.
DICOMWEB_MIDDLEWARE = [
    "pedslink.proxy.ForwardedHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "pedslink.headers.SecurityHeadersMiddleware",
    "core.middleware.RequestIdMiddleware",
    "core.input_guard.NulRefusalMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "pedslink.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "pedslink.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "csp.context_processors.nonce",
            ],
        },
    },
]

# Database: SQLite for the one-machine default, PostgreSQL when DATABASE_URL is set.
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", "sqlite:///" + str(BASE_DIR / "var" / "db.sqlite3")),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
    )
}
# Under ASGI, Django opens a new PostgreSQL connection for nearly every request (~15-20 ms
# of login); DB_POOL=1 keeps a psycopg pool per process instead (then CONN_MAX_AGE is 0).
if env_bool("DB_POOL", False) and DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env_int("DB_POOL_MAX_SIZE", 10),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "consult.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# The lockout backend goes first: a locked-out account or address never reaches the password
# check (README "Login lockout").
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sessions end after inactivity: core.middleware.SessionIdleMiddleware pushes the
# expiry forward (at most once a minute, not a database write per request).
SESSION_IDLE_MINUTES = env_int("SESSION_IDLE_MINUTES", 30)
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
SESSION_TOUCH_SECONDS = 60
SESSION_SAVE_EVERY_REQUEST = False
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# Security defaults: strict whenever DEBUG is off.
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp) and Permissions-Policy on every response, including
# static files and the images answered in front of Django (pedslink/headers.py; README,
# "Security headers"). No inline script runs without the page's nonce; no inline style.
# connect-src 'self' also allows this host's ws:/wss: (the live pages' websocket).
# CSP_REPORT_URI: where browsers report violations (optional; e.g. a Sentry CSP endpoint).
_csp_report_uri = env_list("CSP_REPORT_URI", "") or None
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "worker-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "report-uri": _csp_report_uri,
    }
}
# OHIF Viewer 3 (/ohif/, /static/ohif/), as measured in Chromium (tests/test_security_headers.py):
# its components style themselves inline and draw data: images, and its image decoders are
# WebAssembly. Its JPEG-LS decoder also calls `new Function`: that 'unsafe-eval' is added only
# to the policy of OHIF's worker scripts (requests with Sec-Fetch-Dest: worker), which is the
# policy a worker runs under; OHIF's page never gets it.
OHIF_CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE, WASM_UNSAFE_EVAL],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "worker-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "report-uri": _csp_report_uri,
    }
}
OHIF_WORKER_CSP_EXTRA = {"script-src": [UNSAFE_EVAL]}
# With S3 storage a verified frame link is answered by a redirect to a presigned URL
# (viewer/rendering/links.py): the page may fetch from the object store's origin, which must
# allow GET from SITE_URL by CORS (README, "Storage"). S3_FRAME_ORIGIN: that origin if it is
# not S3_ENDPOINT_URL's (AWS: https://<bucket>.s3.<region>.amazonaws.com).
if env("S3_BUCKET"):
    _s3_origin = env("S3_FRAME_ORIGIN", "") or env("S3_ENDPOINT_URL", "")
    if _s3_origin:
        _s3_parts = urlsplit(_s3_origin)
        _s3_origin = f"{_s3_parts.scheme}://{_s3_parts.netloc}"
        for _directive in ("img-src", "connect-src"):
            CONTENT_SECURITY_POLICY["DIRECTIVES"][_directive].append(_s3_origin)
# Browser features PedsLink does not use are denied to every page (feature -> allowed origins;
# an empty list denies). Photos of film come through the file picker, which needs no camera.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "browsing-topics",
        "camera",
        "display-capture",
        "encrypted-media",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}

# Languages: Simplified Chinese first, English complete.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LOCALE_PATHS = [Path(env("LOCALE_DIR", str(BASE_DIR / "locale")))]
USE_I18N = True
TIME_ZONE = env("TIME_ZONE", "Asia/Shanghai")
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
# In development (and tests) WhiteNoise serves straight from static/, no collectstatic needed.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# Stored files (DICOM, renders, attachments) live outside any served folder.
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
if env("S3_BUCKET"):
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("S3_BUCKET"),
            "endpoint_url": env("S3_ENDPOINT_URL") or None,
            "access_key": env("S3_ACCESS_KEY_ID") or None,
            "secret_key": env("S3_SECRET_ACCESS_KEY") or None,
            "region_name": env("S3_REGION") or None,
            "default_acl": None,
            "file_overwrite": False,
            "querystring_auth": True,
        },
    }

# Redis: Celery broker, Channels layer, cache.
REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# kombu's Redis transport with a fix for workers that stopped consuming after a Redis restart
# (see core/broker.py). Only for redis:// broker URLs.
if CELERY_BROKER_URL.startswith("redis://"):
    CELERY_BROKER_TRANSPORT = "core.broker:Transport"
CELERY_TIMEZONE = TIME_ZONE
# The SLA ladder and the notification outbox are swept (never ETA tasks): see
# consult/consultations/sla.py.
SLA_SWEEP_SECONDS = float(env("SLA_SWEEP_SECONDS", "60"))
CELERY_BEAT_SCHEDULE: dict = {
    "sla-sweep": {"task": "consult.sla_sweep", "schedule": SLA_SWEEP_SECONDS},
    "referral-deadline-sweep": {
        "task": "referrals.deadline_sweep",
        "schedule": float(env("REFERRAL_SWEEP_SECONDS", "60")),
    },
    "resend-notifications": {
        "task": "core.resend_notifications",
        "schedule": float(env("NOTIFICATION_SWEEP_SECONDS", "60")),
    },
    "imaging-orphan-sweep": {
        "task": "viewer.orphans_sweep",
        "schedule": float(env("IMAGING_ORPHAN_SWEEP_SECONDS", "3600")),
    },
}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL]},
    }
}
# Signed links to a study's cached frames (viewer/rendering/links.py): how long a grant issued
# when the study is opened opens its frames without the Django request cycle (afterwards
# Django answers them, checking and auditing as every image request), and, behind nginx,
# the internal location that serves the media folder (docker/nginx/pedslink.conf.template:
# "/_media/").
VIEWER_GRANT_SECONDS = int(env("VIEWER_GRANT_SECONDS", "900"))
FRAME_ACCEL_REDIRECT = env("FRAME_ACCEL_REDIRECT", "")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("CACHE_PREFIX", "pedslink"),
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # A JSON body must be an object (README "Bad input"); forms as DRF's defaults.
    "DEFAULT_PARSER_CLASSES": [
        "core.api_parsers.JSONObjectParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PedsLink API",
    "DESCRIPTION": "Remote pediatric imaging consultation platform",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {"SubspecialtyEnum": "consult.models.directory.Subspecialty"},
}

EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "PedsLink <noreply@pedslink.invalid>")

# Text messages: core.sms.ConsoleSmsBackend, core.sms.FileSmsBackend (one JSON file per
# message in SMS_FILE_PATH), or a gateway class with the interface documented in core/sms.py.
SMS_BACKEND = env("SMS_BACKEND", "core.sms.ConsoleSmsBackend")
SMS_FILE_PATH = env("SMS_FILE_PATH", str(BASE_DIR / "var" / "sms"))
# core.sms.HttpSmsBackend: the gateway's URL, its bearer token (none by default) and the
# seconds to wait for its answer.
SMS_HTTP_URL = env("SMS_HTTP_URL", "")
SMS_HTTP_TOKEN = env("SMS_HTTP_TOKEN", "")
SMS_HTTP_TIMEOUT = env_int("SMS_HTTP_TIMEOUT", 10)

# Parent portal (README "Parent portal"): link lifetime, attempt limits, the limiter's Redis.
PORTAL_LINK_DAYS = env_int("PORTAL_LINK_DAYS", 30)
PORTAL_MAX_ATTEMPTS = env_int("PORTAL_MAX_ATTEMPTS", 5)
PORTAL_LOCK_MINUTES = env_int("PORTAL_LOCK_MINUTES", 15)
PORTAL_CODE_MINUTES = env_int("PORTAL_CODE_MINUTES", 10)
PORTAL_CODE_SENDS_PER_HOUR = env_int("PORTAL_CODE_SENDS_PER_HOUR", 5)
PORTAL_SESSION_MINUTES = env_int("PORTAL_SESSION_MINUTES", 30)
PORTAL_MAX_IMAGES = env_int("PORTAL_MAX_IMAGES", 8)
PORTAL_LIMIT_REDIS_URL = env("PORTAL_LIMIT_REDIS_URL", REDIS_URL)

# Login lockout (README "Login lockout"): django-axes with its database handler, so the lock
# lives in PostgreSQL beside the accounts and a database outage refuses every login.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10)
# A lock ends by itself after LOGIN_LOCKOUT_MINUTES (0: only when an admin lifts it).
AXES_COOLOFF_TIME = (
    timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 30))
    if env_int("LOGIN_LOCKOUT_MINUTES", 30)
    else None
)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "core.audit.client_ip"
AXES_LOCKOUT_CALLABLE = "consult.login_views.locked_out"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ADMIN = False
AXES_DISABLE_ACCESS_LOG = True  # successful logins are audit rows already
AXES_VERBOSE = False
AXES_SENSITIVE_PARAMETERS = ["password", "otp_token", "csrfmiddlewaretoken"]

# Staff two-factor login (README "Two-factor login for staff").
OTP_TOTP_ISSUER = "PedsLink"
SECOND_FACTOR_MAX_AGE_HOURS = float(env("SECOND_FACTOR_MAX_AGE_HOURS", "12"))
SECOND_FACTOR_PENDING_MINUTES = env_int("SECOND_FACTOR_PENDING_MINUTES", 10)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    # django-axes logs every login at INFO; failures and lockouts (WARNING) are enough.
    "loggers": {"axes": {"level": env("AXES_LOG_LEVEL", "WARNING")}},
}

# Imaging ingest: caps on what one file, one zip or one image may cost (README, "Imaging").
IMAGING_MAX_FILE_BYTES = env_int("IMAGING_MAX_FILE_BYTES", 2 * 1024**3)
IMAGING_MAX_PIXEL_BYTES = env_int("IMAGING_MAX_PIXEL_BYTES", 2 * 1024**3)
IMAGING_MAX_ZIP_MEMBERS = env_int("IMAGING_MAX_ZIP_MEMBERS", 5000)
IMAGING_MAX_ZIP_BYTES = env_int("IMAGING_MAX_ZIP_BYTES", 8 * 1024**3)
IMAGING_MAX_SEQUENCE_DEPTH = env_int("IMAGING_MAX_SEQUENCE_DEPTH", 12)
IMAGING_PARSE_SECONDS = env_int("IMAGING_PARSE_SECONDS", 10)
# Ingest queues a series' render caches at most once per this many seconds (debounced).
IMAGING_RENDER_DEBOUNCE_SECONDS = env_int("IMAGING_RENDER_DEBOUNCE_SECONDS", 1)
IMAGING_MAX_HEADER_BYTES = env_int("IMAGING_MAX_HEADER_BYTES", 16 * 1024**2)
IMAGING_MAX_PHOTO_PIXELS = env_int("IMAGING_MAX_PHOTO_PIXELS", 40_000_000)
IMAGING_MAX_PHOTO_BYTES = env_int("IMAGING_MAX_PHOTO_BYTES", 50 * 1024**2)
# Stored DICOM files no row references (a request died between store and index) are
# deleted once older than this; the sweep runs every IMAGING_ORPHAN_SWEEP_SECONDS.
IMAGING_ORPHAN_GRACE_HOURS = float(env("IMAGING_ORPHAN_GRACE_HOURS", "24"))
# QIDO-RS includefield of attributes the index lacks reads stored headers for at most
# this many results of one search.
QIDO_MAX_HEADER_READS = env_int("QIDO_MAX_HEADER_READS", 100)
# A WADO-RS transcode (to explicit VR little endian) decodes the whole instance in memory;
# bigger instances are only sent as stored (their frames still decode one by one).
WADO_MAX_TRANSCODE_BYTES = env_int("WADO_MAX_TRANSCODE_BYTES", 512 * 1024**2)
# Uploads larger than this go to a temporary file rather than memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = env_int("FILE_UPLOAD_MAX_MEMORY_SIZE", 1024**2)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024**2)
DICOM_AE_TITLE = env("DICOM_AE_TITLE", "PEDSLINK")
DICOM_PORT = env_int("DICOM_PORT", 11112)
DICOM_BIND_ADDRESS = env("DICOM_BIND_ADDRESS", "0.0.0.0")  # noqa: S104 - PACS connect from the LAN

# `manage.py backup` writes its dated folders here (README, "Backup and restore").
BACKUP_DIR = Path(env("BACKUP_DIR", str(BASE_DIR / "var" / "backups")))
