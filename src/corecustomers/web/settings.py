"""Django settings of the service, read from ``CORECUSTOMERS_*`` environment variables.

See :mod:`corecustomers.web.runtime` for the variables. Nothing here opens a database or
a file except the development secrets file, which is created on first use.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from corecustomers.errors import ConfigError
from corecustomers.web.runtime import database_settings, development_secrets, service_folder

HERE = Path(__file__).resolve().parent

WORKSPACE = os.environ.get("CORECUSTOMERS_WORKSPACE", ".")
SERVICE_FOLDER = service_folder(WORKSPACE)
ENVIRONMENT = os.environ.get("CORECUSTOMERS_ENV", "development")
if ENVIRONMENT not in {"development", "production"}:
    raise ConfigError(f"CORECUSTOMERS_ENV={ENVIRONMENT!r}: set it to 'development' or 'production'")
PRODUCTION = ENVIRONMENT == "production"
#: The shortest secret accepted in production (a guessable key forges sessions).
MIN_SECRET_LENGTH = 32
# The pseudonym key may come from a file kept apart from the data (as the engine reads it)
_KEY_FILE = os.environ.get("CORECUSTOMERS_PSEUDONYM_KEY_FILE", "").strip()
if _KEY_FILE and not os.environ.get("CORECUSTOMERS_PSEUDONYM_KEY"):
    try:
        os.environ["CORECUSTOMERS_PSEUDONYM_KEY"] = Path(_KEY_FILE).read_text("utf-8").strip()
    except OSError as exc:
        raise ConfigError(
            f"CORECUSTOMERS_PSEUDONYM_KEY_FILE={_KEY_FILE!r}: cannot read it ({exc.strerror})"
        ) from None

if PRODUCTION:
    missing = [
        name
        for name in ("CORECUSTOMERS_SECRET_KEY", "CORECUSTOMERS_PSEUDONYM_KEY")
        if not os.environ.get(name)
    ]
    if missing:
        raise ConfigError(
            "the service runs in production mode and needs "
            + " and ".join(missing)
            + ": set each to a long random value (for example `python -c "
            "'import secrets; print(secrets.token_urlsafe(50))'`), kept outside the data"
        )
    SECRET_KEY = os.environ["CORECUSTOMERS_SECRET_KEY"]
    PSEUDONYM_KEY = os.environ["CORECUSTOMERS_PSEUDONYM_KEY"]
    short = [
        name
        for name, value in (
            ("CORECUSTOMERS_SECRET_KEY", SECRET_KEY),
            ("CORECUSTOMERS_PSEUDONYM_KEY", PSEUDONYM_KEY),
        )
        if len(value) < MIN_SECRET_LENGTH
    ]
    if short:
        raise ConfigError(
            " and ".join(short)
            + f" must be at least {MIN_SECRET_LENGTH} characters of random text: generate one "
            "with `python -c 'import secrets; print(secrets.token_urlsafe(50))'`"
        )
else:
    _dev = development_secrets(WORKSPACE)
    SECRET_KEY = os.environ.get("CORECUSTOMERS_SECRET_KEY") or _dev["secret_key"]
    PSEUDONYM_KEY = os.environ.get("CORECUSTOMERS_PSEUDONYM_KEY") or _dev["pseudonym_key"]

DEBUG = os.environ.get("CORECUSTOMERS_DEBUG", "") == "1" and not PRODUCTION
ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get("CORECUSTOMERS_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
    if host.strip()
]
CSRF_TRUSTED_ORIGINS = [
    origin.strip()
    for origin in os.environ.get("CORECUSTOMERS_CSRF_TRUSTED_ORIGINS", "").split(",")
    if origin.strip()
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "ninja",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "corecustomers.web.accounts",
    "corecustomers.web.customers",
    "corecustomers.web.audit",
    "corecustomers.web.jobs",
    "corecustomers.web.work",
    "corecustomers.web.pages",
    "corecustomers.web.sources",
    "corecustomers.web.loyalty",
    "corecustomers.web.contact",
    "corecustomers.web.surveys",
    "corecustomers.web.experiments",
    "corecustomers.web.security",
    "corecustomers.web.privacy",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corecustomers.web.audit.middleware.RequestIdMiddleware",
    "corecustomers.web.customers.middleware.SettingsReadOnceMiddleware",
    "corecustomers.web.security.logs.AccessLogMiddleware",
    "corecustomers.web.security.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "corecustomers.web.accounts.middleware.UserLanguageMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "corecustomers.web.security.ratelimit.ApiRateLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "corecustomers.web.urls"
WSGI_APPLICATION = "corecustomers.web.wsgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    }
]

DATABASES = {"default": database_settings(os.environ.get("CORECUSTOMERS_DB"), WORKSPACE)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTHENTICATION_BACKENDS = [
    "corecustomers.web.accounts.throttle.LoginThrottle",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("CORECUSTOMERS_LOGIN_ATTEMPTS", "5"))
AXES_COOLOFF_TIME = dt.timedelta(
    minutes=int(os.environ.get("CORECUSTOMERS_LOGIN_LOCK_MINUTES", "15"))
)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "corecustomers.web.accounts.throttle.locked_out"
AXES_VERBOSE = False

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# The password policy of `createuser` and the Administration page (demo users excepted):
# at least CORECUSTOMERS_PASSWORD_MIN_LENGTH characters (default 10), not one of the
# 20,000 most common passwords, not all digits, not close to the user name or e-mail.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": int(os.environ.get("CORECUSTOMERS_PASSWORD_MIN_LENGTH", "10"))},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "pages:login"
LOGIN_REDIRECT_URL = "pages:dashboard"
LOGOUT_REDIRECT_URL = "pages:login"

SESSION_COOKIE_AGE = int(os.environ.get("CORECUSTOMERS_SESSION_SECONDS", str(8 * 3600)))
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Served over HTTPS (CORECUSTOMERS_HTTPS=1; the default in production, where a TLS proxy
# in front of the service sets X-Forwarded-Proto): cookies only over HTTPS, HSTS for a
# year, and the CSP upgrades stray http: addresses. CORECUSTOMERS_HTTPS=0 serves plain
# HTTP in production too (a private network; not recommended).
HTTPS = os.environ.get("CORECUSTOMERS_HTTPS", "1" if PRODUCTION else "0") == "1"
if HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("CORECUSTOMERS_HSTS_SECONDS", "31536000"))
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# The API's rate limit per user (corecustomers.web.security.ratelimit): a bucket of
# API_BURST requests refilled at API_RATE_PER_MINUTE; 0 turns it off.
API_RATE_PER_MINUTE = float(os.environ.get("CORECUSTOMERS_API_RATE", "3000"))
API_BURST = int(os.environ.get("CORECUSTOMERS_API_BURST", "500"))

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [HERE / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = os.environ.get("CORECUSTOMERS_TIME_ZONE", "UTC")

STATIC_URL = "/static/"
STATIC_ROOT = SERVICE_FOLDER / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
UPLOAD_LIMIT_BYTES = int(os.environ.get("CORECUSTOMERS_UPLOAD_LIMIT", str(50 * 1024 * 1024)))
UPLOAD_FOLDER = SERVICE_FOLDER / "uploads"

TASKS = {
    "default": {
        "BACKEND": os.environ.get("CORECUSTOMERS_TASK_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}

EMAIL_BACKEND = os.environ.get(
    "CORECUSTOMERS_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend"
)
EMAIL_HOST = os.environ.get("CORECUSTOMERS_SMTP_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("CORECUSTOMERS_SMTP_PORT", "25"))
DEFAULT_FROM_EMAIL = os.environ.get("CORECUSTOMERS_FROM_EMAIL", "corecustomers@localhost")

# Logs (corecustomers.web.security.logs): text or JSON lines with the request id; one
# access line per request naming the URL pattern, never the path (customer ids) or query.
LOG_FORMAT = os.environ.get("CORECUSTOMERS_LOG_FORMAT", "text")
if LOG_FORMAT not in {"text", "json"}:
    raise ConfigError(f"CORECUSTOMERS_LOG_FORMAT={LOG_FORMAT!r}: set it to 'text' or 'json'")
ACCESS_LOG = os.environ.get("CORECUSTOMERS_ACCESS_LOG", "1") == "1"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request": {"()": "corecustomers.web.security.logs.RequestContextFilter"},
        "redact": {"()": "corecustomers.web.security.logs.RedactPathFilter"},
    },
    "formatters": {
        "text": {"()": "corecustomers.web.security.logs.TextFormatter"},
        "json": {"()": "corecustomers.web.security.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request", "redact"],
        }
    },
    "loggers": {
        "django.request": {"handlers": ["console"], "level": "ERROR"},
        "corecustomers": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "waitress": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
