"""Settings, all read through django-environ.

With no environment at all this runs the embedded default: SQLite in WAL mode, Celery's filesystem
broker, keys generated once into ``var/`` (see ``config/keys.py``). Production sets DATABASE_URL,
REDIS_URL, SECRET_KEY and FIELD_ENCRYPTION_KEYS.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from config.keys import local_key
from config.logging import FORMATS, logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.FileAwareEnv()  # SECRET_KEY_FILE works as well as SECRET_KEY
environ.Env.read_env(BASE_DIR / ".env")  # never overrides variables already set


def env_flag(name: str, default: bool) -> bool:
    """A strict boolean: a typo stops start-up instead of reading as False."""
    raw = env.str(name, default="on" if default else "off").strip().lower()
    if raw not in {"on", "off", "true", "false", "1", "0", "yes", "no"}:
        raise ImproperlyConfigured(f"{name} must be on or off, got {raw!r}")
    return raw in {"on", "true", "1", "yes"}


DEBUG = env_flag("DEBUG", False)
SANDBOX = env_flag("SANDBOX", False)
TESTING = env_flag("TESTING", False)

SECRET_KEY = env.str("SECRET_KEY", default="") or local_key(VAR_DIR, "secret_key")
# Newest first. Rotation: prepend a new key, restart, run `manage.py reencrypt`, then drop the old.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[]) or [
    local_key(VAR_DIR, "field_encryption_key", fernet=True)
]

# Personal fields of canonical records (names, e-mail, phones, message content) encrypted at rest
# with FIELD_ENCRYPTION_KEYS. Off: written in clear (rows written encrypted stay readable).
ENCRYPT_PII = env_flag("ENCRYPT_PII", True)
# The HMAC key of the PII blind indexes (exact-match lookups on e-mail and phones). Separate from
# FIELD_ENCRYPTION_KEYS and never rotated by them; after changing it run `manage.py reencrypt`,
# which rebuilds every blind index (lookups miss rows not yet rebuilt until it finishes).
PII_INDEX_KEY = env.str("PII_INDEX_KEY", default="") or local_key(VAR_DIR, "pii_index_key")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The public origin providers call us on (webhook URLs, OAuth redirect URIs). Empty: the request's.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="").rstrip("/")
# Hosts a connector base URL or webhook target may point at although they are private/loopback.
# The sandbox allows loopback (the emulators live on this server).
ALLOWED_PRIVATE_HOSTS = env.list("ALLOWED_PRIVATE_HOSTS", default=[])

INSTALLED_APPS = [
    "config.apps.PlatformAdminConfig",  # django.contrib.admin, dashboard as home
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "formtools",
    "django_celery_beat",
    "django_celery_results",
    "integrations",
    "connectors",
    "sync",
    "webhooks",
]

MIDDLEWARE = [
    "config.log_context.RequestLogContextMiddleware",  # first: every later line has the request id
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

VAR_DIR.mkdir(exist_ok=True)
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web, worker and beat processes read while one writes.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not (DEBUG or TESTING)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING
# Files the platform keeps (corrected payroll files of the onboarding flow); served only through
# signed links (sync/onboarding/files.py), never listed.
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_flag("SECURE_COOKIES", not (DEBUG or SANDBOX or TESTING))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_flag("BEHIND_PROXY", False) else None
# Reverse proxies in front of the app that append to X-Forwarded-For: the webhook receiver takes the
# sender's address (IP allowlists) from there. 0 = REMOTE_ADDR is the sender.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1 if env_flag("BEHIND_PROXY", False) else 0)
# Production is served over TLS: plain HTTP is redirected and browsers told to stay on HTTPS for a
# year (`manage.py check --deploy` is clean). The embedded default, the sandbox and the tests run on
# plain http://127.0.0.1, so there both are off. The health probes answer on plain HTTP everywhere
# (a container's health check runs inside it, before any TLS proxy).
_PLAIN_HTTP = DEBUG or SANDBOX or TESTING
SECURE_SSL_REDIRECT = env_flag("SECURE_SSL_REDIRECT", not _PLAIN_HTTP)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if _PLAIN_HTTP else 31_536_000)
# Both only widen HSTS to this host's own subdomains and allow a preload-list submission (which the
# domain's owner still has to make); either can be turned off.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_flag("SECURE_HSTS_INCLUDE_SUBDOMAINS", not _PLAIN_HTTP)
SECURE_HSTS_PRELOAD = env_flag("SECURE_HSTS_PRELOAD", not _PLAIN_HTTP)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- E-mail (failure notifications, sync/notifications.py) -------------------------------------
# Console by default under DEBUG or SANDBOX (make run prints mails); SMTP otherwise. Tests use locmem.
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.locmem.EmailBackend"
    if TESTING
    else "django.core.mail.backends.console.EmailBackend"
    if DEBUG or SANDBOX
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env_flag("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="crm-integrations@localhost")
# Where django.core.mail.backends.filebased.EmailBackend writes mails (one file each).
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))

# --- Celery -----------------------------------------------------------------------------------
CELERY_QUEUE_DIR = VAR_DIR / "celery"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "control", "processed"):
        (CELERY_QUEUE_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_QUEUE_DIR / "queue"),
        "data_folder_out": str(CELERY_QUEUE_DIR / "queue"),
        "control_folder": str(CELERY_QUEUE_DIR / "control"),
        "processed_folder": str(CELERY_QUEUE_DIR / "processed"),
        "store_processed": False,
    }
else:
    # An unacknowledged task (its worker died) is redelivered after this many seconds. kombu looks
    # for such tasks every interval x throttle seconds (10 x 10 by default, so up to 100 s late):
    # look every few seconds instead, so redelivery follows the timeout closely.
    _visibility = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": _visibility,
        "unacked_restore_interval": max(1, min(10, _visibility // 6)),
        "unacked_restore_throttle": 1,
    }
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "integrations.api.authentication.ApiKeyAuthentication",
        "integrations.api.authentication.StaffSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["integrations.api.permissions.HasSubAccount"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["integrations.api.parsers.StrictJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "integrations.api.pagination.IdCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "integrations.api.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "integrations.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["integrations.api.throttling.PerKeyRateThrottle"],
    "UNAUTHENTICATED_USER": None,
}
# Failed admin log-ins per username (four times as many per address) before further attempts wait.
ADMIN_LOGIN_FAILURES = env.str("ADMIN_LOGIN_FAILURES", default="5 per 15 minutes")
# Requests per API key (or staff user) per window, DRF notation; empty: no limit.
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="6000/minute")
SPECTACULAR_SETTINGS = {
    "TITLE": "CRM integration platform API",
    "DESCRIPTION": (
        "Sub-account API: integrations, sync, canonical records, webhooks. Every error is "
        '`{"error": {"code", "message", "details"}}`. JSON strings (object keys too) may not contain '
        "NUL (\\u0000): such a body is refused as malformed."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "ActivityKindEnum": "sync.models.records.Activity.Kind",
        "ActivityDirectionEnum": "sync.models.records.Activity.Direction",
        "IntegrationStatusEnum": "integrations.models.Integration.Status",
        "IntegrationDirectionEnum": "integrations.models.Integration.Direction",
        "MappingDirectionEnum": "sync.models.engine.FieldMapping.Direction",
        "SyncRunKindEnum": "sync.models.engine.SyncRun.Kind",
        "SyncRunStatusEnum": "sync.models.engine.SyncRun.Status",
        "CanonicalEntityEnum": "connectors.types.CANONICAL_ENTITIES",
        "FlowEntityTypeEnum": "sync.models.onboarding.FlowStep.EntityType",
        "FlowStepStatusEnum": "sync.models.onboarding.FlowStep.Status",
        "FlowDirectionEnum": "sync.onboarding.services.DIRECTION_CHOICES",
        "ScoredEntityTypeEnum": ["contact", "company"],
    },
}
API_KEY_CUSTOM_HEADER = "HTTP_X_API_KEY"

# --- Connectors -------------------------------------------------------------------------------
CONNECTOR_HTTP_TIMEOUT = env.float("CONNECTOR_HTTP_TIMEOUT", default=30.0)
CONNECTOR_TEST_TIMEOUT = env.float("CONNECTOR_TEST_TIMEOUT", default=10.0)
# Rate limits are shared by every process through Redis when it is configured.
RATELIMIT_STORAGE_URL = env.str("RATELIMIT_STORAGE_URL", default=REDIS_URL or "memory://")
# 429s are never errors: one request waits them out in-process up to this many seconds in all,
# then the run's task waits (re-queued with the provider's countdown, its error retries untouched)
# up to SYNC_RATE_LIMIT_WAIT_MAX_SECONDS per run, and past that pauses for
# SYNC_RATE_LIMIT_PAUSE_SECONDS (or the provider's longer wait) and resumes: never failed for it.
CONNECTOR_RATE_LIMIT_WAIT_SECONDS = env.float("CONNECTOR_RATE_LIMIT_WAIT_SECONDS", default=60.0)
SYNC_RATE_LIMIT_WAIT_MAX_SECONDS = env.float("SYNC_RATE_LIMIT_WAIT_MAX_SECONDS", default=300.0)
SYNC_RATE_LIMIT_PAUSE_SECONDS = env.float("SYNC_RATE_LIMIT_PAUSE_SECONDS", default=600.0)
# A run's first wait after an error (5xx, timeout) the provider gave no Retry-After for; doubled
# for each further error.
SYNC_RETRY_BACKOFF_SECONDS = env.float("SYNC_RETRY_BACKOFF_SECONDS", default=4.0)
# A sync's lease expires this long after its last heartbeat (a dead worker's run is resumed then).
SYNC_LEASE_TTL_SECONDS = env.int("SYNC_LEASE_TTL_SECONDS", default=90)
# Push local changes to the sub-account's other integrations within seconds (sync.push_feed); off,
# they wait for each integration's own delta schedule.
SYNC_PUSH_ON_CHANGE = env.bool("SYNC_PUSH_ON_CHANGE", default=True)
# Crash-test fault injection (sync/failpoints.py); empty in every real deployment.
SYNC_FAILPOINTS = env.str("SYNC_FAILPOINTS", default="")
# Inbound provider webhooks allowed per integration, as "<requests>/<seconds>".
WEBHOOK_INBOUND_RATE_LIMIT = env.str("WEBHOOK_INBOUND_RATE_LIMIT", default="50/1")
OAUTH_STATE_TTL_SECONDS = env.int("OAUTH_STATE_TTL_SECONDS", default=600)
# The operator's own OAuth app per provider, used by every integration that names none of its own.
# An OAuthApp row (admin) wins over these; an integration's config client_id/client_secret over both.
OAUTH_APPS = {
    provider: {
        "client_id": env.str(f"{provider.upper()}_CLIENT_ID", default=""),
        "client_secret": env.str(f"{provider.upper()}_CLIENT_SECRET", default=""),
    }
    for provider in ("hubspot", "salesforce")
}
DEMO_ADMIN_PASSWORD = env.str("DEMO_ADMIN_PASSWORD", default="admin")
# /metrics (webhooks/observability/views.py): with a token, only "Authorization: Bearer <token>"
# may scrape; empty, only requests from this machine (loopback, through no proxy).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# --- Client onboarding ------------------------------------------------------------------------
# What audits the payroll files clients upload (sync/onboarding/payroll_audit.py): a dotted path to
# a class or factory whose instances have process(filename=, content=, content_type=).
PAYROLL_AUDIT_PROCESSOR = env.str(
    "PAYROLL_AUDIT_PROCESSOR", default="sync.onboarding.payroll_audit.PayrollAudit"
)
# Larger uploads fail the audit unread.
PAYROLL_AUDIT_MAX_BYTES = env.int("PAYROLL_AUDIT_MAX_BYTES", default=25 * 1024 * 1024)

# One JSON object per line (config/logging.py); "console" prints readable lines (make run's default).
LOG_FORMAT = env.str("LOG_FORMAT", default="console" if DEBUG else "json").strip().lower()
if LOG_FORMAT not in FORMATS:
    raise ImproperlyConfigured(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, got {LOG_FORMAT!r}")
# A line per HTTP request (method, path without its query, status, duration, request id).
LOG_REQUESTS = env_flag("LOG_REQUESTS", True)
LOGGING = logging_config(fmt=LOG_FORMAT, level=env.str("LOG_LEVEL", default="INFO"))
