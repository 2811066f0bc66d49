"""Settings for the DSR service. Every knob is read from the environment here, with its default."""

import os
import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

# An empty variable counts as unset, as compose files' `${NAME:-}` give it; any other value that
# is not understood stops the program with the variable named, rather than meaning a default.
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def env_text(name: str) -> str:
    return os.environ.get(name, "").strip()


def env_bool(name: str, default: bool) -> bool:
    value = env_text(name).lower()
    if not value:
        return default
    if value not in TRUE_WORDS + FALSE_WORDS:
        raise ImproperlyConfigured(
            f"{name}={os.environ[name]!r}: expected one of {', '.join(TRUE_WORDS + FALSE_WORDS)}"
        )
    return value in TRUE_WORDS


def env_int(name: str, default: int) -> int:
    value = env_text(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={os.environ[name]!r}: expected a whole number") from None


def env_ratio(name: str, default: float) -> float:
    value = env_text(name)
    if not value:
        return default
    try:
        ratio = float(value)
    except ValueError:
        ratio = -1.0
    if not 0 <= ratio <= 1:
        raise ImproperlyConfigured(f"{name}={os.environ[name]!r}: expected a number from 0 to 1")
    return ratio


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of `choices`, in any case."""
    value = env_text(name)
    if not value:
        return default
    for choice in choices:
        if value.lower() == choice.lower():
            return choice
    raise ImproperlyConfigured(f"{name}={os.environ[name]!r}: expected one of {', '.join(choices)}")


def env_rate(name: str, default: str) -> str | None:
    """A throttle rate as DRF reads it, "N/second", "N/minute", "N/hour" or "N/day" (or s, min, h,
    d); None for "off"."""
    value = env_text(name) or default
    if value.lower() == "off":
        return None
    if not re.fullmatch(r"[0-9]{1,9}/(s|sec|second|m|min|minute|h|hour|d|day)", value):
        raise ImproperlyConfigured(
            f"{name}={os.environ[name]!r}: expected a number of requests per second, minute, hour or day "
            "(e.g. 600/minute), or off"
        )
    return value


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in (env_text(name) or default).split(",") if item.strip()]


# Off unless set: `make run` and docker-compose.yml set DEBUG=1 for development.
DEBUG = env_bool("DEBUG", False)
# The default lets a fresh clone run its commands and tests; `check --deploy` flags it, and the
# Docker entrypoint runs that check, so a production container refuses to start with it.
SECRET_KEY = os.environ.get("SECRET_KEY", "django-insecure-development-key-do-not-use-in-production")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
# Origins (scheme://host) of the HTTPS pages that post forms, e.g. the admin behind a proxy.
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# Without DEBUG the service is only served over HTTPS, usually behind a proxy that terminates TLS:
# set TRUST_X_FORWARDED_PROTO=1 when that proxy sets X-Forwarded-Proto (and nothing else reaches
# the app), or HTTPS requests look like plain HTTP and get redirected forever.
BEHIND_PROXY = env_bool("TRUST_X_FORWARDED_PROTO", False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)

# Who reads the outcome of each ingested file. `text`: people; ingest_dsr prints a report (a
# progress bar on a terminal, a summary per file) and the app's log records are not shown, since
# they would repeat it. `json` (the Docker image's default): log collectors; each file's outcome
# is one JSON record on stdout and ingest_dsr prints nothing else.
LOG_FORMAT = env_choice("LOG_FORMAT", "text", ("text", "json"))
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))


def logging_config(log_format: str, level: str) -> dict:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(levelname)s %(name)s %(message)s",
                "rename_fields": {"levelname": "level", "name": "logger"},
                "timestamp": "time",
            }
        },
        "handlers": {
            "stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "json"},
            "stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
            # Rather than no handler: Python would then print warnings on stderr by itself.
            "discard": {"class": "logging.NullHandler"},
        },
        "loggers": {
            "dsrs": {"handlers": ["stdout" if log_format == "json" else "discard"], "level": level, "propagate": False},
            # Every server error with its traceback (Django logs them nowhere else without DEBUG).
            "django.request": {
                "handlers": ["stdout" if log_format == "json" else "stderr"],
                "level": "ERROR",
                "propagate": False,
            },
            # The driver's warnings (e.g. after a lost connection), which would otherwise be bare
            # text on stderr: a record for log collectors; for people, the report says it already.
            "psycopg": {
                "handlers": ["stdout" if log_format == "json" else "discard"],
                "level": "WARNING",
                "propagate": False,
            },
            # An ingestion worker's jobs (started, ended, tried again) and the jobs it takes back
            # from dead workers: the worker's report, to people as to log collectors.
            "procrastinate.worker": {
                "handlers": ["stdout" if log_format == "json" else "stderr"],
                "level": level,
                "propagate": False,
            },
            "dsrs.imports.worker": {
                "handlers": ["stdout" if log_format == "json" else "stderr"],
                "level": level,
                "propagate": False,
            },
        },
    }


LOGGING = logging_config(LOG_FORMAT, LOG_LEVEL)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    # Swagger UI's files, served from STATIC_ROOT like the admin's: /api/docs/ needs no CDN.
    "drf_spectacular_sidecar",
    "axes",
    # The job queue of ingestion (its tables live in the same PostgreSQL database), and the
    # tokens that authenticate uploads (`manage.py drf_create_token USER`).
    "procrastinate.contrib.django",
    "rest_framework.authtoken",
    "dsrs",
]

MIDDLEWARE = [
    "dsr_project.health.health_middleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

# The admin login, throttled by django-axes: after AXES_FAILURE_LIMIT wrong passwords for one
# user name from one address, that pair is locked out for AXES_COOLOFF_TIME (in hours), even
# with the right password; a successful login clears the count.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = 1
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/login_locked.html"

ROOT_URLCONF = "dsr_project.urls"
WSGI_APPLICATION = "dsr_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Before the apps' own: the project's versions of third-party templates (DRF's page).
        "DIRS": [BASE_DIR / "dsr_project" / "templates"],
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

# PostgreSQL only. DATABASE_URL points at any server. Without it, the embedded server in .pgdata/
# (dsr_project/embedded_postgres), which the first connection starts, so that a fresh clone needs
# no database set-up and commands that never connect never start it.
# Connections are kept for a minute between requests, and checked before a request reuses one:
# after a database restart, the first request reconnects instead of failing.
DATABASE_URL = env_text("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "dsr_project.embedded_postgres",
            "NAME": "postgres",
            "PGDATA": str(BASE_DIR / ".pgdata"),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Served by WhiteNoise from STATIC_ROOT (collectstatic runs when the Docker image is built), gzipped.
# "imports" holds uploaded DSR files until, and after, a worker ingests them: a folder that every
# worker reads (IMPORTS_STORAGE_DIR), or an S3-compatible bucket through django-storages
# (IMPORTS_S3_BUCKET; credentials from boto3's own AWS_* variables).
IMPORTS_STORAGE_DIR = env_text("IMPORTS_STORAGE_DIR") or str(BASE_DIR / "uploads")
IMPORTS_S3_BUCKET = env_text("IMPORTS_S3_BUCKET")
if IMPORTS_S3_BUCKET:
    IMPORTS_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {"bucket_name": IMPORTS_S3_BUCKET, "endpoint_url": env_text("IMPORTS_S3_ENDPOINT_URL") or None},
    }
else:
    IMPORTS_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": IMPORTS_STORAGE_DIR},
    }
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    "imports": IMPORTS_STORAGE,
}
# An upload's request body above this size is refused (413) before any of it is read.
IMPORTS_MAX_UPLOAD_BYTES = env_int("IMPORTS_MAX_UPLOAD_BYTES", 20 * 1024**3)
# Uploads larger than 2.5 MB (Django's FILE_UPLOAD_MAX_MEMORY_SIZE) stream to a temporary file
# (FILE_UPLOAD_TEMP_DIR, the system's by default) in 64 KiB chunks, never held in memory.

# Workers and tasks of ingestion: dsrs/imports/tasks.py (see `manage.py ingest_worker`).
PROCRASTINATE_AUTODISCOVER_MODULE_NAME = ""
PROCRASTINATE_IMPORT_PATHS = ["dsrs.imports.tasks", "dsrs.storage.columnar.jobs", "dsrs.percentile.warming"]

# Who may read DSRs and percentiles: "authenticated" (a user with the "Can view DSR" permission,
# by DRF token or admin session) or "public" (anyone, as `make run` serves the samples).
API_READ_ACCESS = env_choice("API_READ_ACCESS", "authenticated", ("public", "authenticated"))

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Each view says who may call it: the reads, dsrs/api/access.py (API_READ_ACCESS); the imports,
    # dsrs/api/imports.py; the schema and its docs are public. Clients get JSON (asked for, */* or
    # no Accept header: the first renderer); a browser, which asks for text/html, gets the same
    # data in DRF's HTML page. A ?format= parameter changes nothing: no query parameter but the
    # contract's matters.
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "URL_FORMAT_OVERRIDE": None,
    "UNAUTHENTICATED_USER": None,
    # A client's address for the throttles (dsrs/api/throttling.py): the peer's, or behind the
    # proxy TRUST_X_FORWARDED_PROTO trusts, the last X-Forwarded-For entry, the one it wrote.
    # Never the whole header, which a client could fill with a new address at each request.
    "NUM_PROXIES": 1 if BEHIND_PROXY else 0,
}

# Requests per user and per address (dsrs/api/throttling.py), "N/second|minute|hour|day", or
# "off": reads (the contract's paths and GET /imports/), and uploads (POST /imports/).
API_THROTTLE_RATES = {
    "reads_per_user": env_rate("THROTTLE_READS_PER_USER", "600/minute"),
    "reads_per_address": env_rate("THROTTLE_READS_PER_ADDRESS", "1200/minute"),
    "uploads_per_user": env_rate("THROTTLE_UPLOADS_PER_USER", "120/hour"),
    "uploads_per_address": env_rate("THROTTLE_UPLOADS_PER_ADDRESS", "240/hour"),
}

# The cache every process shares: a table of the database (migration 0010), for the throttles.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "shared": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "dsrs_shared_cache"},
}

# The generated schema (docs/openapi.yaml, `make schema`) states the API's contract (docs/api.md).
SPECTACULAR_SETTINGS = {
    "TITLE": "DSR API",
    "DESCRIPTION": "",
    "VERSION": "0.1.0",
    "LICENSE": {"name": "Apache 2.0", "url": "http://www.apache.org/licenses/LICENSE-2.0.html"},
    "SERVERS": [{"url": "http://localhost:8000/"}],
    "TAGS": [
        {"name": "dsrs", "description": "DSR API"},
        {"name": "resources", "description": "DSR Resources API"},
        {"name": "imports", "description": "DSR files uploaded for the ingestion workers"},
    ],
    # Both a DSR and an import have a `status`: the DSR's keeps the contract's name.
    "ENUM_NAME_OVERRIDES": {
        "StatusEnum": "dsrs.api.serializers.DSR_STATUSES",
        "ImportStatusEnum": "dsrs.models.Import.Status",
    },
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# A file with more than this share of rejected lines fails as a whole.
DSR_MAX_REJECTED_RATIO = env_ratio("DSR_MAX_REJECTED_RATIO", 0.01)
# A file fails as soon as it holds more than these (dsrs/formats/limits.py): a DSP's largest
# monthly file holds about a billion lines, some 100 GB once decompressed, and a .gz of theirs
# expands less than ten times.
DSR_MAX_LINES = env_int("DSR_MAX_LINES", 2_000_000_000)
DSR_MAX_BYTES = env_int("DSR_MAX_BYTES", 400 * 1024**3)
DSR_MAX_EXPANSION = env_int("DSR_MAX_EXPANSION", 100)

# The top-percentile query runs over this many connections at once, each summing a disjoint share
# of the resources: about one per core the database server can give a query.
PERCENTILE_WORKERS = env_int("PERCENTILE_WORKERS", 2)
# Answers with up to this many resources are kept for the next request over the same DSRs (about
# 200 bytes each); larger ones are streamed every time. The newest PERCENTILE_CACHE_ANSWERS stay.
PERCENTILE_CACHE_RESOURCES = env_int("PERCENTILE_CACHE_RESOURCES", 200_000)
PERCENTILE_CACHE_ANSWERS = env_int("PERCENTILE_CACHE_ANSWERS", 200)
# Each ingested DSR gets a copy of its usage lines in this folder, which the percentile
# query reads with DuckDB (dsrs.storage.columnar). Every API process and worker must see the same folder:
# on several machines, a shared volume. COLUMNAR_COPIES=0 writes none and queries PostgreSQL.
COLUMNAR_COPIES = env_bool("COLUMNAR_COPIES", True)
COLUMNAR_DIR = env_text("COLUMNAR_DIR") or str(BASE_DIR / "columnar")
# text: the COPY text the load sends, written as it goes (ingestion at full speed; DuckDB parses it
# at each cold query). parquet: encoded beside the load by a DuckDB process (faster cold queries,
# slower ingestion on two cores). docs/performance.md has the figures.
COLUMNAR_FORMAT = env_choice("COLUMNAR_FORMAT", "text", ("text", "parquet"))
# DuckDB's memory for one query, in the API process, beyond which it spills to COLUMNAR_DIR: with
# the process's own, what bounds an API process (README, "Memory"). Resource segments rank 100M
# lines within it; the copies of the lines, before a worker has written the segments, may run out,
# and PostgreSQL answers then (docs/performance.md).
COLUMNAR_MEMORY_LIMIT = env_text("COLUMNAR_MEMORY_LIMIT") or "512MB"
